//! Test guests in WebAssembly text, on a prelude of WASI preview 1
//! imports and helpers.

use crate::wasm::WasmModule;

/// WASI imports and helpers every test guest shares. Memory layout:
/// 0..8 iovec, 16..24 prestat, 24 opened fd, 28 byte count, 32..40 sizes,
/// 64..128 preopen name, 256..1024 constant strings, 1024.. buffers.
pub const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; fd_write of one buffer; the errno.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 28)))

  ;; fd_read into one buffer; the byte count, or -1.
  (func $read (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 28))
      (then (return (i32.const -1))))
    (i32.load (i32.const 28)))

  ;; Whether len bytes at a and b are equal.
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $i i32)
    (loop $next
      (if (i32.eq (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))
    (i32.const 0))

  ;; The last preopen with this name (what wasi-libc picks), or -1.
  (func $preopen (param $ptr i32) (param $len i32) (result i32)
    (local $fd i32) (local $found i32)
    (local.set $found (i32.const -1))
    (local.set $fd (i32.const 3))
    (block $done
      (loop $next
        (br_if $done (call $fd_prestat_get (local.get $fd) (i32.const 16)))
        (if (i32.eq (i32.load (i32.const 20)) (local.get $len))
          (then
            (drop (call $fd_prestat_dir_name (local.get $fd) (i32.const 64) (local.get $len)))
            (if (call $eq (i32.const 64) (local.get $ptr) (local.get $len))
              (then (local.set $found (local.get $fd))))))
        (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
        (br $next)))
    (local.get $found))

  ;; path_open with the same base and inheriting rights; the fd, or -errno.
  (func $open (param $dir i32) (param $ptr i32) (param $len i32) (param $oflags i32) (param $rights i64) (result i32)
    (local $err i32)
    (local.set $err
      (call $path_open (local.get $dir) (i32.const 1) (local.get $ptr) (local.get $len)
        (local.get $oflags) (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 24)))
    (if (result i32) (local.get $err)
      (then (i32.sub (i32.const 0) (local.get $err)))
      (else (i32.load (i32.const 24)))))
"#;

/// `path_open` flags: create and truncate.
pub const O_CREAT_TRUNC: u32 = 1 | 8;
/// The `fd_read` right.
pub const RIGHT_READ: u64 = 1 << 1;
/// The `fd_write` right.
pub const RIGHT_WRITE: u64 = 1 << 6;

/// A command module: [`PRELUDE`] and `body` (which exports `_start`).
pub fn guest(body: &str) -> WasmModule {
    guest_importing("", body)
}

/// A guest with imports of its own, which must come before any function.
pub fn guest_importing(imports: &str, body: &str) -> WasmModule {
    super::wat(&format!("(module {imports} {PRELUDE} {body})"))
}
