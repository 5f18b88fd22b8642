"""TLS in front of a plain-HTTP stand-in: listens on 127.0.0.1 (a free port unless --port), ends TLS
with the given certificate and pipes the bytes to HOST:PORT. Prints the port on stdout, then one
line per completed handshake on stderr ("TLS connection TLSv1.3"). One asyncio loop, so that no
TLS connection is ever used from two threads at once (OpenSSL does not allow it)."""
import argparse
import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


def log(*words):
    print(*words, file=sys.stderr, flush=True)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("certificate", help="PEM certificate chain of the server")
    parser.add_argument("key", help="PEM private key of the server")
    parser.add_argument("upstream", help="HOST:PORT of the plain-HTTP server behind")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.certificate, args.key)

    async def serve(client_reader, client_writer):
        log("TLS connection", client_writer.get_extra_info("ssl_object").version())
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        except OSError as error:
            log("cannot reach the upstream:", error)
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", args.port, ssl=context, ssl_handshake_timeout=30)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
