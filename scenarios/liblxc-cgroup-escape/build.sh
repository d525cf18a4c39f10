#!/bin/sh
# Build everything the run stage needs into /out (copied to /opt/reprolab).
set -eu
mkdir -p /out/bin /out/lib /out/rootfs/bin
CFLAGS="-O2 -Wall"

# The C program, three ways. --no-as-needed: the program references nothing
# in the library, and a linker defaulting to --as-needed would drop it.
cc $CFLAGS -o /out/bin/showcg-plain showcg/showcg.c
cc $CFLAGS -o /out/bin/showcg-liblxc showcg/showcg.c -Wl,--no-as-needed $(pkg-config --libs lxc)
cc $CFLAGS -fPIC -shared -o /out/lib/libcgmescape.so _shared/cgmescape/cgmescape.c
cc $CFLAGS -o /out/bin/showcg-model showcg/showcg.c \
	-L/out/lib -Wl,-rpath,/opt/reprolab/lib -Wl,--no-as-needed -lcgmescape

# The libcontainer program, three ways (build tags add one cgo file each).
go build -o /out/bin/ctr-plain ./ctr
go build -tags lxclink -o /out/bin/ctr-liblxc ./ctr
go build -tags cgmmodel -o /out/bin/ctr-model ./ctr

# The driver: no cgo, so it never loads liblxc or the model itself. Its
# judgement of a run (placement.go) is tested here, with each suite's Go.
CGO_ENABLED=0 go test ./driver
CGO_ENABLED=0 go build -o /out/bin/repro ./driver

# Container rootfs for libcontainer: static busybox with sh and cat.
cp /bin/busybox /out/rootfs/bin/busybox
ln -sf busybox /out/rootfs/bin/sh
ln -sf busybox /out/rootfs/bin/cat
mkdir -p /out/rootfs/etc /out/rootfs/proc /out/rootfs/dev
echo 'root:x:0:0:root:/:/bin/sh' > /out/rootfs/etc/passwd
echo 'root:x:0:' > /out/rootfs/etc/group

# What was built against, for the verdict's "versions".
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
cat > /out/versions.json <<JSON
{"liblxc": "$(pkg-config --modversion lxc)",
 "runc-libcontainer": "$(pkgver golang-github-opencontainers-runc-dev)",
 "go": "$(go env GOVERSION 2>/dev/null || go version | cut -d' ' -f3)",
 "gcc": "$(cc -dumpversion)",
 "debian": "$(cat /etc/debian_version)"}
JSON
cat /out/versions.json
