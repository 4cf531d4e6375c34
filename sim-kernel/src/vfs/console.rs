//! The null console behind fds 0, 1 and 2 of every process: reads give EOF,
//! writes are swallowed (like `/dev/null`, `drivers/char/mem.c`), so that a
//! scenario's first new fd is 3 as in a Linux test. Like every character
//! device opened through `do_dentry_open`, it has FMODE_PREAD/PWRITE:
//! pread gives EOF and pwrite the count, and lseek is `noop_llseek`'s 0.

use super::file::{File, FileOps, Llseek, FMODE_PREAD, FMODE_PWRITE};
use crate::abi::O_RDWR;
use crate::errno::KResult;
use crate::kernel::Kernel;
use crate::sync::Arc;
use crate::task::Process;
use std::any::Any;

pub struct NullConsole;

/// The null device's inode number.
pub const NULL_INO: u64 = 2;

impl FileOps for NullConsole {
    fn name(&self) -> &'static str {
        "null"
    }
    fn path(&self, _file: &File) -> String {
        "/dev/null".to_string()
    }
    fn llseek(&self) -> Llseek {
        Llseek::Noop
    }
    fn read(&self, _file: &File, _len: usize) -> KResult<Vec<u8>> {
        Ok(Vec::new())
    }
    fn write(&self, _file: &File, data: &[u8], _caller: &crate::task::Task) -> KResult<usize> {
        Ok(data.len())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Open fds 0, 1 and 2 of a new process on one null-console file.
pub fn open_std_fds(kernel: &Arc<Kernel>, p: &Process) {
    let f = File::alloc(kernel, NULL_INO, O_RDWR, Box::new(NullConsole));
    f.add_mode(FMODE_PREAD | FMODE_PWRITE);
    p.files.install_std(&f);
}

#[cfg(test)]
mod tests {
    use crate::syscall::{sys_lseek, sys_pread64, sys_pwrite64, sys_read};
    use crate::task::Task;

    /// The null console behaves as `/dev/null` opened O_RDWR does on the
    /// host: reads and preads give end of file, pwrite the count, lseek 0.
    /// (Not a library scenario: natively, fds 0-2 are the harness's.)
    #[test]
    fn null_console_is_dev_null() {
        let (_k, t) = Task::single(Default::default());
        for fd in 0..3 {
            assert_eq!(sys_read(&t, fd, 8).unwrap(), b"");
            assert_eq!(sys_pread64(&t, fd, 8, 0).unwrap(), b"");
            assert_eq!(sys_pwrite64(&t, fd, b"abc", 5), Ok(3));
            assert_eq!(sys_lseek(&t, fd, 10, 0), Ok(0));
        }
    }
}
