"""A loopback TCP proxy that can make a server unreachable: up, it forwards every connection to its target;
``down()`` drops the connections it carries and resets new ones at once (each counted in ``refused``), until
``up()``. Threads only; ``close()`` ends them all."""

from __future__ import annotations

import contextlib
import socket
import threading


def _drop(sock: socket.socket) -> None:
    """Close a socket now, waking a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class TcpProxy:
    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1"):
        self.target = target
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.2)  # the accepting thread looks at `closed` this often
        self.host, self.port = self.listener.getsockname()[:2]
        self.refused = 0  # connections reset while down
        self.forwarded = 0  # connections forwarded while up
        self.closed = False
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._pipes: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcpproxy-accept", daemon=True)
        self._acceptor.start()

    def down(self) -> None:
        """Unreachable: the connections it carries dropped, new ones reset."""
        with self._lock:
            self._up = False
            carried, self._open = self._open, set()
        for sock in carried:
            _drop(sock)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.closed = True
        self._acceptor.join(timeout=10)
        self.down()
        for pipe in self._pipes:
            pipe.join(timeout=10)
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                up = self._up
                self.refused += not up
            if not up:
                _drop(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                _drop(client)
                continue
            server.settimeout(None)
            with self._lock:
                if not self._up:  # went down meanwhile
                    self.refused += 1
                    _drop(client)
                    _drop(server)
                    continue
                self.forwarded += 1
                self._open |= {client, server}
                pipes = [threading.Thread(target=self._pipe, args=pair, name="tcpproxy-pipe", daemon=True)
                         for pair in ((client, server), (server, client))]
                self._pipes = [t for t in self._pipes if t.is_alive()] + pipes
            for pipe in pipes:
                pipe.start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:  # one side ended: the connection ends
            self._open -= {source, sink}
        _drop(source)
        _drop(sink)
