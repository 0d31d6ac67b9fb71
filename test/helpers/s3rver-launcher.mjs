// Runs s3rver in its own process for a test file; see ./s3rver.ts.
//
// Started as `node --openssl-legacy-provider s3rver-launcher.mjs <directory>`: s3rver
// encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers
// through the legacy provider, so paginated listings fail without the flag.
//
// Listens on an OS-chosen loopback port and prints {"port":N} on stdout once it
// accepts connections. Exits when stdin closes, so a test runner that dies never
// leaves a server behind.
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: s3rver-launcher.mjs <directory>\n');
  process.exit(2);
}

const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  await server.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.on('error', () => void shutdown());
process.stdin.resume();
