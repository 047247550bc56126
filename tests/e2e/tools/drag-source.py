#!/usr/bin/python3
"""A drag source for the end-to-end tests, as a file manager is one: a small GTK window at X,Y
that offers FILE… as a `text/uri-list` when dragged from it. The test drags with xdotool (the
pointer through the X server), so that the app receives a real XDND drop, which WebDriver cannot
make. Prints "ready X Y" (the window's centre on the screen) once it is shown, then "dropped"
when the drag ends; exits then, or after 60 s.

Usage: drag-source.py X Y FILE…   (Debian's python3-gi and gir1.2-gtk-3.0)
"""

import sys

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

SIZE = (120, 80)


def main() -> None:
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [GLib.filename_to_uri(p, None) for p in sys.argv[3:]]
    win = Gtk.Window(type=Gtk.WindowType.TOPLEVEL)
    win.set_decorated(False)
    win.set_default_size(*SIZE)
    win.move(x, y)
    box = Gtk.EventBox()
    box.add(Gtk.Label(label="files"))
    win.add(box)
    box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    box.drag_source_add_uri_targets()

    def data_get(_w, _ctx, data, _info, _time):
        data.set_uris(uris)

    def drag_end(*_args):
        print("dropped", flush=True)
        GLib.timeout_add(200, Gtk.main_quit)

    def mapped(*_args):
        print(f"ready {x + SIZE[0] // 2} {y + SIZE[1] // 2}", flush=True)
        return False

    box.connect("drag-data-get", data_get)
    box.connect("drag-end", drag_end)
    win.connect("map-event", mapped)
    GLib.timeout_add_seconds(60, Gtk.main_quit)
    win.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
