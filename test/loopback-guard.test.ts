// The preload must be active in every test process and must block only non-loopback destinations.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';

test('the loopback guard is preloaded by scripts/test.mjs', () => {
  assert.equal(net.Socket.prototype.connect.name, 'guardedConnect');
});

test('connections to non-loopback hosts throw before any DNS lookup or packet', async () => {
  assert.throws(() => net.connect(443, '192.0.2.1'), { code: 'ERR_LOOPBACK_GUARD', message: /192\.0\.2\.1:443/ });
  assert.throws(() => net.connect({ host: 'discord.com', port: 443 }), { code: 'ERR_LOOPBACK_GUARD' });
  await assert.rejects(fetch('https://slack.com/api/auth.test'), (error: Error) => {
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_LOOPBACK_GUARD');
    return true;
  });
});

test('loopback connections go through', async () => {
  const server = createServer((socket) => socket.end('hello'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    for (const host of ['127.0.0.1', 'localhost']) {
      const socket = net.connect(port, host);
      const [data] = (await once(socket, 'data')) as [Buffer];
      assert.equal(data.toString(), 'hello');
      socket.destroy();
    }
  } finally {
    server.close();
  }
});
