#!/usr/bin/env bash
# Runs the kernel tests on the AVX-512 path on a CPU without AVX-512: the test binaries, built
# statically, boot as the init of a Linux kernel inside Bochs (a full-system x86 emulator that
# implements AVX-512), with Skylake-X as the emulated CPU. Not part of CI (about 15 minutes on 2
# cores); for machines where `grep avx512f /proc/cpuinfo` is empty.
#
# Needs root (apt-get, mknod). Installs Debian's bochs, bochsbios, vgabios, busybox-static,
# isolinux, syslinux-common, genisoimage and cpio; downloads a Debian bullseye kernel (5.10,
# "cloud" flavour) from deb.debian.org. Work files go to $WORK (default /tmp/mobilenet-avx512);
# the serial console of the guest, i.e. the test output, ends up in $WORK/serial.out.
#
# Known limits of this setup, all of the emulator or its pairing with Linux, none of ours:
# - Bochs 2.7 reports an XSAVE layout newer kernels reject (6.1 then disables AVX entirely);
#   5.10 warns and keeps it. With the compacted format (XSAVES) the guest's vector registers
#   are occasionally corrupted across context switches, so the kernel runs with noxsaves.
# - Bochs cannot run the EVEX gather LLVM emits for the pointwise kernel's k-major packing
#   (used only beyond 1024 input channels), so the runtime's pointwise unit test is skipped;
#   every pointwise layer shape of specs/ still runs in kernel_shapes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/tmp/mobilenet-avx512}
TARGET=x86_64-unknown-linux-gnu
KERNEL_DEB=${KERNEL_DEB:-pool/main/l/linux-signed-amd64/linux-image-5.10.0-32-cloud-amd64_5.10.223-1_amd64.deb}
mkdir -p "$WORK"

apt-get install -y -q bochs bochsbios vgabios busybox-static isolinux syslinux-common \
    genisoimage cpio >/dev/null

# Static test binaries (explicit --target keeps RUSTFLAGS off the proc-macro and build scripts).
build() {
    RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$WORK/target" \
        cargo test --release --target $TARGET --features mobilenet-runtime/emulate-avx512 \
        --no-run --message-format=json "$@" |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])'
}
declare -A BIN
while read -r name exe; do BIN[$name]=$exe; done < <(
    build -p mobilenet-runtime --lib
    build -p mobilenet-tests --test conformance --test kernel_shapes --test kernel_shapes_2
)

# The guest's root file system: busybox, the test binaries, the fixtures at the path the
# conformance test was compiled with.
R="$WORK/root"
rm -rf "$R" && mkdir -p "$R/bin" "$R/t" "$R/dev" "$R/proc" "$R/sys" "$R$ROOT/mobilenet-tests"
cp /bin/busybox "$R/bin/"
cp -r "$ROOT/mobilenet-tests/fixtures" "$R$ROOT/mobilenet-tests/"
cp "${BIN[mobilenet_runtime]}" "$R/t/runtime"
cp "${BIN[conformance]}" "$R/t/conformance"
cp "${BIN[kernel_shapes]}" "$R/t/kernel_shapes"
cp "${BIN[kernel_shapes_2]}" "$R/t/kernel_shapes_2"
strip "$R"/t/*
mknod "$R/dev/console" c 5 1
mknod "$R/dev/null" c 1 3
cat > "$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "=== cpu flags (avx512):"
/bin/busybox grep -o -w 'avx512[a-z]*' /proc/cpuinfo | /bin/busybox sort -u | /bin/busybox tr '\n' ' '; echo
echo "=== runtime kernel tests, every ISA (pointwise skipped, see the script)"
/t/runtime --test-threads=1 kernels:: --skip pointwise 2>&1; echo "rc=$?"
echo "=== conformance, every ISA, avx512 required"
MOBILENET_REQUIRE_ISA=avx512 /t/conformance --test-threads=1 --nocapture 2>&1; echo "rc=$?"
echo "=== kernel shapes: avx512 vs scalar"
MOBILENET_TEST_ISAS=scalar,avx512 MOBILENET_REQUIRE_ISA=avx512 /t/kernel_shapes --test-threads=1 --nocapture 2>&1; echo "rc=$?"
MOBILENET_TEST_ISAS=scalar,avx512 MOBILENET_REQUIRE_ISA=avx512 /t/kernel_shapes_2 --test-threads=1 --nocapture 2>&1; echo "rc=$?"
echo "=== DONE"
/bin/busybox poweroff -f
EOF
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$WORK/initrd.gz")

# Kernel and a bootable ISO.
if [ ! -f "$WORK/kernel.deb" ]; then
    curl -sSf -o "$WORK/kernel.deb" "http://deb.debian.org/debian/$KERNEL_DEB"
fi
rm -rf "$WORK/kernel" "$WORK/iso" && dpkg-deb -x "$WORK/kernel.deb" "$WORK/kernel"
mkdir -p "$WORK/iso/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$WORK/iso/isolinux/"
cp "$WORK"/kernel/boot/vmlinuz-* "$WORK/iso/vmlinuz"
cp "$WORK/initrd.gz" "$WORK/iso/initrd.gz"
cat > "$WORK/iso/isolinux/isolinux.cfg" <<'EOF'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0,115200 rdinit=/init panic=-1 mitigations=off idle=poll nosmp lsm= noapictimer clocksource=jiffies noxsaves noxsaveopt
EOF
genisoimage -quiet -o "$WORK/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table -J -R "$WORK/iso"

cat > "$WORK/bochsrc" <<EOF
megs: 1024
cpu: model=corei7_skylake_x, count=1, ips=100000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
display_library: rfb, options="timeout=0"
ata0-master: type=cdrom, path=$WORK/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$WORK/serial.out
log: $WORK/bochs.log
clock: sync=none, time0=local
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
echo c > "$WORK/debugger.rc"   # Debian's bochs has the debugger built in: just continue
rm -f "$WORK/serial.out"
echo "booting Bochs (Skylake-X); test output in $WORK/serial.out"
timeout 7200 bochs -q -f "$WORK/bochsrc" -rc "$WORK/debugger.rc" < /dev/null > "$WORK/bochs.stdout" 2>&1 || true

grep -v '^\[' "$WORK/serial.out" | sed -n '/^=== cpu flags/,/^=== DONE/p'
fails=$(grep -c '^rc=[1-9]' "$WORK/serial.out" || true)
runs=$(grep -c '^rc=' "$WORK/serial.out" || true)
if [ "$runs" -ne 3 ] || [ "$fails" -ne 0 ]; then
    echo "FAILED: $runs of 3 test binaries finished, $fails failed" >&2
    exit 1
fi
echo "all three test binaries passed on the emulated AVX-512 CPU"
