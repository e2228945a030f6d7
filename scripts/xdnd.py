"""Dropping files on an X11 window the way a file manager does (the XDND protocol), for
the soak test (scripts/soak.sh): xdotool clicks and types, but cannot drag a file.

    python3 scripts/xdnd.py WINDOW_ID X Y FILE...   # drop FILEs at (X, Y) in the window

Needs python-xlib (`pip install python-xlib`). Speaks XDND version 5 as the source:
Enter (offering text/uri-list), Position, the target's Status, Drop, then answers the
target's selection request with the files' URIs and waits for Finished.
"""
import sys
import time
import urllib.parse

from Xlib import X, display
from Xlib.protocol import event


class DropSource:
    def __init__(self, disp=None):
        self.d = disp or display.Display()
        self.root = self.d.screen().root
        self.window = self.root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
        self.atom = lambda name: self.d.intern_atom(name)
        self.uri_list = self.atom("text/uri-list")

    def _send(self, target, kind, data):
        message = event.ClientMessage(window=target, client_type=self.atom(kind), data=(32, data + [0] * (5 - len(data))))
        target.send_event(message, event_mask=0)
        self.d.flush()

    def _wait(self, kind, timeout, on_request=None):
        """Events until a client message of `kind` arrives; answers selection requests."""
        want = self.atom(kind)
        end = time.time() + timeout
        while time.time() < end:
            while self.d.pending_events():
                e = self.d.next_event()
                if e.type == X.SelectionRequest and on_request:
                    on_request(e)
                elif e.type == X.ClientMessage and e.client_type == want:
                    return e
            time.sleep(0.005)
        return None

    def drop(self, target_id, x, y, paths, timeout=5.0):
        """Drops `paths` at window coordinates (x, y); returns what happened, in words."""
        target = self.d.create_resource_object("window", target_id)
        origin = target.translate_coords(self.root, 0, 0)
        rx, ry = x - origin.x, y - origin.y
        payload = "".join("file://" + urllib.parse.quote(str(p)) + "\r\n" for p in paths).encode()
        src = self.window.id

        def answer(request):
            prop = request.property or request.target
            if request.target == self.uri_list:
                request.requestor.change_property(prop, self.uri_list, 8, payload)
            else:
                prop = X.NONE
            notify = event.SelectionNotify(time=request.time, requestor=request.requestor, selection=request.selection, target=request.target, property=prop)
            request.requestor.send_event(notify)
            self.d.flush()

        # Owned before the first Position: a target may ask for the data as soon as the
        # drag reaches it (winit does), not only once it is dropped.
        self.window.set_selection_owner(self.atom("XdndSelection"), X.CurrentTime)
        self._send(target, "XdndEnter", [src, 5 << 24, self.uri_list, 0, 0])
        self._send(target, "XdndPosition", [src, 0, (rx << 16) | ry, X.CurrentTime, self.atom("XdndActionCopy")])
        status = self._wait("XdndStatus", timeout, on_request=answer)
        if status is None:
            return "no XdndStatus from the window"
        if not status.data[1][1] & 1:
            self._send(target, "XdndLeave", [src])
            return "the window refused the drop"
        # Time for the target to read the data it asked for.
        self._wait("never", 0.2, on_request=answer)
        self._send(target, "XdndDrop", [src, 0, X.CurrentTime])
        finished = self._wait("XdndFinished", timeout, on_request=answer)
        return "dropped" if finished is not None else "no XdndFinished from the window"


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    window, x, y = int(sys.argv[1], 0), int(sys.argv[2]), int(sys.argv[3])
    outcome = DropSource().drop(window, x, y, sys.argv[4:])
    print(outcome)
    sys.exit(0 if outcome == "dropped" else 1)


if __name__ == "__main__":
    main()
