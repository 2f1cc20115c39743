#!/usr/bin/python3
# Collects what syslog(3) sends to a /dev/log socket into a file, so a case
# can show pam_dhis2's, sshd's and sudo's log lines when it fails.
#
#   syslog-sink.py SOCKET LOGFILE
#
# Runs until killed. The socket is made mode 0666: sshd and sudo also log
# from processes that are not root.
import os
import signal
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(out, "ab", buffering=0) as log:
        while True:
            msg = sock.recv(65536)
            log.write(msg.rstrip(b"\0\n") + b"\n")


if __name__ == "__main__":
    main()
