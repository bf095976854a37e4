"""``ioflyby serve DIR``: a read-only web viewer of a folder of ioflyby outputs (docs/viewer.md)."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import typer

from ioflyby.cli.app import app, err_console
from ioflyby.errors import IoflybyError


class ServeError(IoflybyError):
    """The viewer cannot start: no such folder, the address cannot be bound, a bad basemap."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 = a free port the OS chooses)."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port {port} is not a TCP port: use 0..65535 (0 = any free port)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ServeError(f"--host {host!r} is not an address of this machine ({exc.strerror}): use 127.0.0.1") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port "
                         "(0 = any free port)") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` of a bound socket (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@app.command("serve")
def serve(
    folder: Path = typer.Argument(..., help="Folder of ioflyby outputs (demo, process, hotspots, change, batch)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="TCP port; 0 = any free port."),
    basemap: Path = typer.Option(None, "--basemap", help="Global Io image, 0°E at its left edge "
                                 "(e.g. a USGS 2 km mosaic); default: found in FOLDER, else the twin's."),
    as_json: bool = typer.Option(False, "--json", help='Print {"url", "folder", "basemap"} as JSON when listening.'),
) -> None:
    """Serve FOLDER read-only in the browser: maps as tiles in Io's own CRS over a global basemap,
    Io's volcano catalogue and hot spots, search by name, before/after swipe and a time slider,
    the products and the flybys. Prints its URL and runs until Ctrl-C."""
    if not folder.is_dir():
        raise ServeError(f"{folder} is not a folder: give the folder of ioflyby outputs to serve")
    if basemap is not None and not basemap.is_file():
        raise ServeError(f"--basemap {basemap} is not a file: give a global Io image (JPEG/PNG)")
    local = is_loopback(host)
    sock = bind(host, port)  # listening at once: a browser opened on the URL waits in the backlog
    url = url_of(sock)
    if not as_json:
        print(f"ioflyby viewer of {folder} at {url} (read-only; Ctrl-C stops it)", flush=True)
    import uvicorn

    from ioflyby.viewer.app import LOCAL_HOSTS, create_app, find_basemap, server_config

    chosen = basemap if basemap is not None else find_basemap(folder.resolve())
    viewer = create_app(folder, basemap=chosen, allowed_hosts=[*LOCAL_HOSTS, host] if local else ["*"])
    if as_json:
        print(json.dumps({"url": url, "folder": str(folder.resolve()), "basemap": str(chosen) if chosen else None,
                          "allowed_hosts": [*LOCAL_HOSTS, host] if local else ["*"]}), flush=True)
    if not local:
        err_console.print(f"warning: listening on {host}: anyone who can reach this address can read {folder}",
                          highlight=False)
    server = uvicorn.Server(server_config(viewer, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
