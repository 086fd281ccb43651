//! WASI guests written in WebAssembly text.

/// Imports and helpers shared by the guests: `$write(fd, ptr, len)`,
/// `$strlen`, `$memeq`, `$find(name, len) -> fd` (a preopen by name, or
/// exit 99), `$fail(step, errno)` (exits with step * 1000 + errno).
/// Memory: 0..16 scratch for iovecs, 16 "\n", 32.. prestat, 64.. names,
/// 256.. string constants, 1024.. pointer arrays, 4096.. buffers.
const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\n")

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (unreachable))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $memeq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func $find (param $name i32) (param $len i32) (result i32)
    (local $fd i32)
    (local.set $fd (i32.const 3))
    (loop $next
      (if (i32.eqz (call $fd_prestat_get (local.get $fd) (i32.const 32)))
        (then
          (if (i32.eq (i32.load (i32.const 36)) (local.get $len))
            (then
              (drop (call $fd_prestat_dir_name (local.get $fd) (i32.const 64) (local.get $len)))
              (if (call $memeq (i32.const 64) (local.get $name) (local.get $len))
                (then (return (local.get $fd))))))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $fd) (i32.const 32))))
    (call $proc_exit (i32.const 99))
    (unreachable))

  (func $fail (param $step i32) (param $errno i32)
    (call $proc_exit (i32.add (i32.mul (local.get $step) (i32.const 1000)) (local.get $errno))))

  ;; path_open(dir, path) with oflags and rights; the new fd is at 28.
  (func $open (param $dir i32) (param $path i32) (param $oflags i32) (param $rights i64) (result i32)
    (call $path_open (local.get $dir) (i32.const 0)
      (local.get $path) (call $strlen (local.get $path))
      (local.get $oflags) (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 28)))

  ;; Prints `count` NUL-terminated strings whose pointers are at `ptrs`,
  ;; one per line.
  (func $print_list (param $fd i32) (param $count i32) (param $ptrs i32)
    (local $i i32) (local $p i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (i32.load (i32.add (local.get $ptrs) (i32.mul (local.get $i) (i32.const 4)))))
        (call $write (local.get $fd) (local.get $p) (call $strlen (local.get $p)))
        (call $write (local.get $fd) (i32.const 16) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
"#;

fn with_prelude(body: &str) -> String {
    format!("(module {PRELUDE} {body})")
}

/// WASI rights bits used below.
pub const FD_READ: u64 = 1 << 1;
pub const FD_WRITE: u64 = 1 << 6;
/// path_open oflags.
pub const O_CREAT: u32 = 1;
pub const O_DIRECTORY: u32 = 2;
pub const O_TRUNC: u32 = 8;

/// WASI rights for a directory fd that may create and unlink files, but
/// hands out no read or write rights to what it opens.
pub const DIR_MUTATE: u64 = (1 << 10) | (1 << 13) | (1 << 26);

/// Tries to write through the `/` preopen in several ways and exits with a
/// bit set for each that succeeded: 1 create /new.txt, 2 open /in.txt for
/// writing, 4 create sub/new.txt through a directory fd opened from `/`,
/// 8 unlink sub/victim through that fd. 16 is set if reading /in.txt
/// failed, 32 if opening sub failed.
pub fn write_attempts() -> String {
    with_prelude(&format!(
        r#"
  (data (i32.const 256) "/\00")
  (data (i32.const 264) "in.txt\00")
  (data (i32.const 272) "new.txt\00")
  (data (i32.const 280) "sub\00")
  (data (i32.const 288) "victim\00")
  (func (export "_start")
    (local $root i32) (local $sub i32) (local $bits i32)
    (local.set $root (call $find (i32.const 256) (i32.const 1)))
    (if (i32.eqz (call $open (local.get $root) (i32.const 272) (i32.const {O_CREAT}) (i64.const {FD_WRITE})))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 1)))))
    (if (i32.eqz (call $open (local.get $root) (i32.const 264) (i32.const 0) (i64.const {FD_WRITE})))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 2)))))
    (if (i32.eqz (call $open (local.get $root) (i32.const 280) (i32.const {O_DIRECTORY}) (i64.const {DIR_MUTATE})))
      (then
        (local.set $sub (i32.load (i32.const 28)))
        (if (i32.eqz (call $open (local.get $sub) (i32.const 272) (i32.const {O_CREAT}) (i64.const 0)))
          (then (local.set $bits (i32.or (local.get $bits) (i32.const 4)))))
        (if (i32.eqz (call $path_unlink_file (local.get $sub) (i32.const 288) (i32.const 6)))
          (then (local.set $bits (i32.or (local.get $bits) (i32.const 8))))))
      (else (local.set $bits (i32.or (local.get $bits) (i32.const 32)))))
    (if (call $open (local.get $root) (i32.const 264) (i32.const 0) (i64.const {FD_READ}))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 16)))))
    (call $proc_exit (local.get $bits)))
"#
    ))
}

/// Exits with `code` through proc_exit, printing nothing (code after it
/// traps, so an exit that returns is caught).
pub fn exit_quietly(code: i32) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (func (export "_start") (call $proc_exit (i32.const {code})) unreachable))"#
    )
}

/// Writes "out\n" to stdout and "err\n" to stderr, then exits with `code`
/// through proc_exit (code after it traps, so an exit that returns is
/// caught).
pub fn exit_with(code: i32) -> String {
    with_prelude(&format!(
        r#"
  (data (i32.const 256) "out\n")
  (data (i32.const 260) "err\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 256) (i32.const 4))
    (call $write (i32.const 2) (i32.const 260) (i32.const 4))
    (call $proc_exit (i32.const {code}))
    unreachable)
"#
    ))
}
