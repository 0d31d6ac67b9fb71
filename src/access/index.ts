export { ROLES, isRole, can, inScope, actorOf, permissionsOf, type Role, type Permission, type Principal } from './roles.js';
export { AuthenticationError, AccessDeniedError, HiddenError, InvalidInputError, ConflictError, type AuthFailureReason } from './errors.js';
export { TOKEN_RE, hashToken, newToken } from './tokens.js';
export { UsersService, validateNewUser, type User, type NewUser, type AuthResult } from './users.js';
export {
  AccessRequests,
  MAX_ITEMS_PER_REQUEST,
  type AccessRequest,
  type AccessRequestStatus,
  type AccessRequestsOptions,
  type Grant,
  type CaseGrant,
  type ListPosition,
} from './access-requests.js';
export { Audit, DenialLedger, PreviewLedger, PREVIEWS_PER_ENTRY, type Denial, type Repeats, type AuthFailure } from './audit.js';
export { hashPassword, verifyPassword, passwordProblems, generatePassword, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH } from './passwords.js';
export { SessionsService, SESSION_RE, type SessionInfo, type SessionOptions, type SignInResult, type SessionAuthResult, type SignIn } from './sessions.js';
