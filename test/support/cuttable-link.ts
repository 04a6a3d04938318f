// A TCP link on loopback that can be cut as a network partition cuts one: while it is cut no byte passes either way,
// yet neither end sees its connection close (nothing is reset; a real partition keeps TCP retransmitting, silently).
// Connections opened during the cut are accepted and wait. Once restored, what was held back flows on in order, as
// when a partition heals before TCP gives up. A test points one process's DATABASE_URL at it to cut that process
// alone off from Postgres.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

interface Line {
  near: Socket;
  far: Socket | undefined;
}

export class CuttableLink {
  readonly #lines = new Set<Line>();
  #cut = false;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (near) => this.#accept(near));
  }

  /** Listens on a free loopback port and forwards to the Postgres server `url` names. */
  static async start(url: string): Promise<CuttableLink> {
    const target = new URL(url);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new CuttableLink(server, { host: target.hostname, port: Number(target.port || 5432) });
  }

  /** `url` with its host and port replaced by this link's. */
  via(url: string): string {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String((this.server.address() as AddressInfo).port);
    return through.toString();
  }

  cut(): void {
    this.#cut = true;
    for (const line of this.#lines) {
      line.near.unpipe();
      line.near.pause();
      line.far?.unpipe();
      line.far?.pause();
    }
  }

  restore(): void {
    this.#cut = false;
    for (const line of this.#lines) this.#join(line);
  }

  async close(): Promise<void> {
    for (const line of this.#lines) {
      line.near.destroy();
      line.far?.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(near: Socket): void {
    near.pause();
    const line: Line = { near, far: undefined };
    this.#lines.add(line);
    const drop = () => {
      line.near.destroy();
      line.far?.destroy();
      this.#lines.delete(line);
    };
    near.on('error', drop).on('close', drop);
    if (!this.#cut) this.#join(line);
  }

  /** Connects the line's far end if it has none yet, and lets bytes flow both ways. */
  #join(line: Line): void {
    if (line.far === undefined) {
      const far = connect(this.target.port, this.target.host);
      far.pause();
      far.on('error', () => line.near.destroy()).on('close', () => line.near.destroy());
      line.far = far;
    }
    line.near.pipe(line.far);
    line.far.pipe(line.near);
  }
}
