"""HTTP transport, command line and process lifetime of the devchain node."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import logging
import os
import platform
import signal
import socket
import socketserver
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # imported in main(): eth-tester and py-evm take ~0.7 s to import
    from .chain import DevChain
    from .rpc import Dispatcher

log = logging.getLogger("devchain")

READY_PREFIX = "DEVCHAIN READY "
MAX_BODY_BYTES = 5 * 1024 * 1024  # geth's limit for an HTTP request
PARENT_POLL_SECONDS = 0.2
SERVER_POLL_SECONDS = 0.1


class RpcRequestHandler(BaseHTTPRequestHandler):
    """JSON-RPC over HTTP/1.1 with keep-alive.

    Each response goes out in ONE write with TCP_NODELAY set. http.server's usual
    send_response/end_headers/write sequence sends headers and body in two segments, and
    Nagle's algorithm plus the client's delayed ACK then stall every keep-alive request by
    about 40 ms (measured: 44 ms per eth_chainId).
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # StreamRequestHandler sets TCP_NODELAY in setup()
    server_version = "devchain"
    server: "RpcHTTPServer"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._reply_text(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._reply_text(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._reply_text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
            return
        body = self.rfile.read(length)
        payload = self.server.dispatcher.handle(body)
        self._reply(HTTPStatus.OK, payload or b"", "application/json")

    def do_GET(self) -> None:  # noqa: N802
        self._reply_text(HTTPStatus.METHOD_NOT_ALLOWED, "JSON-RPC: use POST")

    def _reply_text(self, status: HTTPStatus, text: str) -> None:
        self._reply(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        head = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            head.append("Allow: POST")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        self.log_request(status.value, len(body))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        log.debug("%s %s", self.address_string(), format % args)


class RpcHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, dispatcher: "Dispatcher") -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.dispatcher = dispatcher
        super().__init__((host, port), RpcRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also resolves socket.getfqdn(host), a DNS round trip that
        # can take seconds on a machine without a resolver. Nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def rpc_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def client_version() -> str:
    from importlib.metadata import version

    return (
        f"devchain/v1/eth-tester-{version('eth-tester')}/py-evm-{version('py-evm')}"
        f"/python-{platform.python_version()}"
    )


# --- command line -------------------------------------------------------------------------


def _non_negative(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (ValueError, InvalidOperation):
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        return value

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="devchain.py",
        description="A local EVM chain (eth-tester + py-evm) served over JSON-RPC/HTTP. "
        f"Prints one line '{READY_PREFIX}{{json}}' to stdout when it serves.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=_non_negative(int), default=0, help="0 picks a free port")
    parser.add_argument("--chain-id", type=_non_negative(int), default=16602)
    parser.add_argument(
        "--accounts", type=_non_negative(int), default=10, help="number of pre-funded accounts"
    )
    parser.add_argument(
        "--balance-eth", type=_non_negative(Decimal), default=Decimal(1_000_000),
        help="starting balance of each account, in ether",
    )
    parser.add_argument(
        "--block-time", type=_non_negative(float), default=0.0,
        help="seconds between blocks; 0 seals a block for every transaction",
    )
    parser.add_argument(
        "--priority-fee-gwei", type=_non_negative(Decimal), default=Decimal(1),
        help="suggested tip (eth_maxPriorityFeePerGas; part of eth_gasPrice)",
    )
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="exit when the parent process dies"
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", action="store_true", help="log only problems (default)")
    verbosity.add_argument("--verbose", "-v", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.chain_id == 0:
        parser.error("--chain-id must be positive")
    if args.port > 65535:
        parser.error("--port must be at most 65535")
    return args


# --- process lifetime -----------------------------------------------------------------------


def watch_parent(stop: threading.Event, parent_pid: int) -> None:
    """Sets ``stop`` once the parent is gone (we get re-parented, so getppid() changes)."""

    def run() -> None:
        while not stop.wait(PARENT_POLL_SECONDS):
            if os.getppid() != parent_pid:
                log.info("parent %d exited; stopping", parent_pid)
                stop.set()

    threading.Thread(target=run, name="parent-watch", daemon=True).start()


def run_interval_miner(chain: "DevChain", interval: float, stop: threading.Event) -> None:
    """Seals the pending block every ``interval`` seconds (``--block-time``)."""

    def run() -> None:
        next_tick = time.monotonic() + interval
        while not stop.wait(max(0.0, next_tick - time.monotonic())):
            try:
                with chain.lock:
                    chain.mine_interval_block()
            except Exception:  # noqa: BLE001 - keep mining; the error is logged
                log.exception("interval mining failed")
            next_tick = max(next_tick + interval, time.monotonic())

    threading.Thread(target=run, name="miner", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parent_pid = os.getppid()
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="devchain: %(message)s",
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.exit_with_parent:
        watch_parent(stop, parent_pid)

    from .chain import WEI_PER_ETHER, WEI_PER_GWEI, ChainConfig, DevChain
    from .rpc import Dispatcher

    chain = DevChain(
        ChainConfig(
            chain_id=args.chain_id,
            accounts=args.accounts,
            balance_wei=int(args.balance_eth * WEI_PER_ETHER),
            block_time=args.block_time,
            priority_fee_wei=int(args.priority_fee_gwei * WEI_PER_GWEI),
        )
    )
    try:
        server = RpcHTTPServer(args.host, args.port, Dispatcher(chain, client_version()))
    except OSError as error:
        print(f"devchain: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": SERVER_POLL_SECONDS},
        name="http",
        daemon=True,
    ).start()
    if args.block_time > 0:
        run_interval_miner(chain, args.block_time, stop)

    ready = {
        "rpc": rpc_url(args.host, server.server_address[1]),
        "chainId": args.chain_id,
        "accounts": [
            {
                "address": account.checksum_address,
                "privateKey": "0x" + account.private_key.to_bytes().hex(),
            }
            for account in chain.accounts
        ],
    }
    print(READY_PREFIX + json.dumps(ready, separators=(",", ":")), flush=True)

    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    return 0
