export { Gat947Driver, type Gat947DriverOptions } from './driver.js';
export { Gat947Error, isGat947Error, type Gat947ErrorCode } from './errors.js';
export { IRET, checkIRet, localTime, instantOf, type Gat947Link, type LocalDateTime, type SdStatus } from './link.js';
export { gat947ParamsSchema, readPassword, type Gat947Params, type Gat947Call } from './params.js';
export { UsbLink } from './usb-link.js';
export { TcpLink, encodeFrame, decodeBody, FrameReader, MAX_FRAME_BYTES } from './tcp-link.js';
export { BotTransport, encodeCbw, decodeCsw, CBW_SIGNATURE, CSW_SIGNATURE } from './bot.js';
export { parseZfyInfo, encodeZfyInfo, type ZfyInfo } from './zfy-info.js';
export type { UsbDevicePort, UsbInterfacePort, UsbEndpointPort, UsbDeviceFinder } from './usb-port.js';
