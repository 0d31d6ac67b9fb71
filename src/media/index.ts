export { MediaTools, type MediaToolsOptions } from './media-tools.js';
export { MediaError, isMediaError, type MediaErrorCode } from './errors.js';
export { playbackPlan, type PlaybackPlan, type ProxyKind } from './playback.js';
export { resolveBinary, type MediaTool, type BinarySource, type ResolvedBinary, type ResolveBinaryOptions } from './binaries.js';
export type { SampleSpec } from './generate.js';
export type { MediaInfo, MediaKind, MediaStream, StreamType, MediaCallOptions, ProxyMedia, ProxyOptions, Thumbnail, ThumbnailOptions } from './types.js';
