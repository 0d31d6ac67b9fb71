import { CustodyError } from '../../core/index.js';

/**
 * Why a GA/T 947.4 call failed. Stable codes: logs, dock records and the API carry
 * them, so an operator can tell a cable from a password.
 */
export type Gat947ErrorCode =
  /** The endpoint stalled (USB: the device refused the command or its data). */
  | 'GAT947_STALL'
  /** Fewer bytes moved than the command needed. */
  | 'GAT947_SHORT_TRANSFER'
  /** The Command Status Wrapper answered another command (its tag is not ours). */
  | 'GAT947_CSW_TAG'
  /** The Command Status Wrapper is not one (size, signature or residue). */
  | 'GAT947_CSW_INVALID'
  /** The device reported the command failed (CSW status 1). */
  | 'GAT947_COMMAND_FAILED'
  /** The device lost track of the exchange (CSW status 2); it was reset. */
  | 'GAT947_PHASE_ERROR'
  /** No answer in time; the link was reset where it could be. */
  | 'GAT947_TIMEOUT'
  /** The recorder went away (unplugged, re-enumerated, socket closed) mid-command. */
  | 'GAT947_DEVICE_GONE'
  /** The operating system refused access to the USB device (see `custody devices udev-rules`). */
  | 'GAT947_ACCESS_DENIED'
  /** Another driver or program holds the interface. */
  | 'GAT947_BUSY'
  /** The device has no interface with bulk endpoints to speak through. */
  | 'GAT947_NO_INTERFACE'
  /** The recorder refused the device password (iRet 4, CHECK_PWD_FAILED). */
  | 'GAT947_PASSWORD_WRONG'
  /** The profile names a password secret that cannot be read. */
  | 'GAT947_PASSWORD_UNAVAILABLE'
  /** The recorder answered a call with failure (iRet 2, 6, 8 or unknown). */
  | 'GAT947_CALL_FAILED'
  /** The answer is not what the call returns (length, layout, text). */
  | 'GAT947_BAD_REPLY'
  /** The profile has no command number for this call. */
  | 'GAT947_NOT_SUPPORTED'
  /** The link cannot be opened (TCP connect refused, no such USB device). */
  | 'GAT947_CONNECT_FAILED'
  /** The link is closed or was left in an unknown state by an earlier fault. */
  | 'GAT947_LINK_CLOSED';

/**
 * A GA/T 947.4 call failed. Never carries the password or a payload that holds it.
 * Whether a retry can help (timeouts, stalls, a busy interface) is in the error-code registry.
 */
export class Gat947Error extends CustodyError {
  declare readonly code: Gat947ErrorCode;

  constructor(code: Gat947ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, opts);
  }
}

export function isGat947Error(e: unknown): e is Gat947Error {
  return e instanceof Gat947Error;
}
