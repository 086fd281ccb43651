;; Like hello.wat but leaves through proc_exit(3): the runtime must carry a
;; guest's own exit code out to the container's status, not just 0 or trap.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  (memory (export "memory") 1)

  ;; iovec at 0: { buf = 16, len = 20 }; bytes written land at 8.
  (data (i32.const 0) "\10\00\00\00\14\00\00\00")
  (data (i32.const 16) "exiting with code 3\n")

  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 3))))
