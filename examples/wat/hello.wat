;; The smallest WASI preview 1 command: no toolchain behind it, so a failure
;; here is the runtime's, never a compiler's or libc's.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  ;; WASI reads the iovec and the text out of the guest's exported memory.
  (memory (export "memory") 1)

  ;; iovec at 0: { buf = 16, len = 15 }; bytes written land at 8.
  (data (i32.const 0) "\10\00\00\00\0f\00\00\00")
  (data (i32.const 16) "hello from wat\n")

  (func (export "_start")
    ;; fd 1 = stdout, one iovec at 0, count of bytes written stored at 8.
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
