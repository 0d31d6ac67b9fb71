export type MediaType = 'video' | 'audio' | 'photo';

const BY_EXT: Record<string, MediaType> = {
  mp4: 'video', mov: 'video', avi: 'video', mkv: 'video', ts: 'video',
  wav: 'audio', mp3: 'audio', aac: 'audio', amr: 'audio',
  jpg: 'photo', jpeg: 'photo', png: 'photo',
};

/** The evidence type of a recorder file by its extension, or null for non-media. */
export function mediaTypeOf(path: string): MediaType | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return BY_EXT[name.slice(dot + 1).toLowerCase()] ?? null;
}
