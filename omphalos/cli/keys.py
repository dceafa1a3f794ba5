"""``omphalos keys``: make and show the CURVE key pairs of the ZeroMQ transport."""

from __future__ import annotations

import os
import sys

from cement import Controller, ex

from omphalos.config import ConfigError


class Keys(Controller):
    """``omphalos keys generate NAME`` and ``omphalos keys show FILE``."""

    class Meta:
        label = "keys"
        stacked_on = "base"
        stacked_type = "nested"
        help = "make and show CURVE key pairs for the zmq transport"
        description = ("CURVE key pairs for the zmq transport. Each side has its own pair: "
                       "NAME.key_secret stays on that machine (secret_key_file); NAME.key is "
                       "the public half, copied to the collector's allowed_keys_dir (for a "
                       "sender) or to each sender's server_key_file (for the collector).")

    def _default(self) -> None:
        self.app.args.print_help()  # type: ignore[attr-defined]

    @ex(help="write NAME.key (public) and NAME.key_secret (secret, mode 600) into --dir",
        arguments=[(["name"], {"metavar": "NAME", "help": "key name, e.g. the host name"}),
                   (["--dir", "-d"], {"default": ".", "help": "directory (default: .)"}),
                   (["--force"], {"action": "store_true",
                                  "help": "overwrite an existing pair"})])
    def generate(self) -> None:
        import zmq.auth  # pyzmq is an optional extra: imported when used

        pargs = self.app.pargs
        directory = os.path.expanduser(pargs.dir)
        name = pargs.name
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"bad key name {name!r}: a plain file name is needed")
        public = os.path.join(directory, f"{name}.key")
        secret = os.path.join(directory, f"{name}.key_secret")
        if not pargs.force and (os.path.exists(public) or os.path.exists(secret)):
            raise ConfigError(f"{public} or {secret} exists already (--force replaces them)")
        os.makedirs(directory, exist_ok=True)
        old = os.umask(0o077)
        try:
            public, secret = zmq.auth.create_certificates(directory, name)
        finally:
            os.umask(old)
        os.chmod(secret, 0o600)
        os.chmod(public, 0o644)
        print(f"public key: {public}\nsecret key: {secret}")

    @ex(help="print the public key in FILE (a .key or .key_secret file)",
        arguments=[(["file"], {"metavar": "FILE"})])
    def show(self) -> None:
        import zmq.auth  # pyzmq is an optional extra: imported when used

        try:
            public, secret = zmq.auth.load_certificate(self.app.pargs.file)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read key file {self.app.pargs.file}: {exc}") from None
        print(public.decode("ascii"))
        if secret is not None:
            print("(this file holds the secret key too: keep it on its machine)",
                  file=sys.stderr)
