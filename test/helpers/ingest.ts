/**
 * A loopback stand-in for a Pyroscope server, written to its published ingest API
 * (https://grafana.com/docs/pyroscope/latest/configure-server/about-server-api/): POST /ingest with
 * the metadata as query parameters and the profile as the body — folded text, or for pprof a
 * multipart form whose `profile` file is the (gzipped) pprof. It records every request and answers
 * with the statuses it is given, then 200. Listens on 127.0.0.1 only; bodies are capped.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IngestRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The `profile` file of a multipart body (pprof pushes), or undefined. */
  readonly profileFile?: Buffer;
}

export interface IngestServer {
  readonly url: string;
  readonly requests: IngestRequest[];
  close(): Promise<void>;
}

const MAX_BODY = 16 << 20;
const MAX_REQUESTS = 50;

export interface IngestLimits {
  /** Requests answered before the server says 503 (default 50). */
  readonly maxRequests?: number;
  /** Listen on this port (a server restarted where the client expects it); default any free one. */
  readonly port?: number;
  /** Record into this list (a restarted server continuing an earlier one's). */
  readonly requests?: IngestRequest[];
}

export async function startIngestServer(statuses: number[] = [], extraHeaders: Record<string, string> = {}, limits: IngestLimits = {}): Promise<IngestServer> {
  const requests: IngestRequest[] = limits.requests ?? [];
  const maxRequests = limits.maxRequests ?? MAX_REQUESTS;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', async () => {
      if (requests.length >= maxRequests) return res.writeHead(503).end('too many requests in this test');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = Buffer.concat(chunks);
      let profileFile: Buffer | undefined;
      const type = req.headers['content-type'] ?? '';
      if (type.startsWith('multipart/form-data')) {
        const form = await new Response(body, { headers: { 'content-type': type } }).formData();
        const file = form.get('profile');
        if (file && typeof file !== 'string') profileFile = Buffer.from(await file.arrayBuffer());
      }
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body, profileFile });
      const status = statuses.shift() ?? 200;
      const ok = req.method === 'POST' && url.pathname === '/ingest';
      res.writeHead(ok ? status : 404, status === 200 ? {} : extraHeaders).end(ok ? (status === 200 ? '' : `error ${status}`) : 'not found');
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(limits.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    // Open keep-alive connections would keep a stopped server answering.
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
