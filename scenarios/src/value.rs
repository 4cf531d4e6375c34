//! Run-time values of the scenario language (the book's scenario-language
//! chapter, "Values") and how they print: integers in decimal, errnos by name, byte strings
//! as `b"..."`, strings quoted, records as `{field: value}`, lists as
//! `[a, b]`, kernel handles as `<type>`.

use sim_kernel::eventfd::{EventfdCtx, EventfdWait};
use sim_kernel::mm::Signal;
use sim_kernel::sync::Arc;
use sim_kernel::tutorial::mailbox::Mailbox;
use sim_kernel::watch_queue::WatchSource;
use sim_kernel::Errno;
use std::fmt;
use std::rc::Rc;

/// A kernel object a kernel-internal call returned. Compared by identity.
#[derive(Clone)]
pub enum Handle {
    EventfdCtx(Arc<EventfdCtx>),
    EventfdWait(Arc<EventfdWait>),
    /// A watchable object (`watch_source()`); `.id` is its id.
    WatchSource(Arc<WatchSource>),
    /// The tutorial mailbox (`mailbox_get(fd)`).
    Mailbox(Arc<Mailbox>),
}

impl Handle {
    pub fn type_name(&self) -> &'static str {
        match self {
            Handle::EventfdCtx(_) => "eventfd_ctx",
            Handle::EventfdWait(_) => "eventfd_wait",
            Handle::WatchSource(_) => "watch_source",
            Handle::Mailbox(_) => "mailbox",
        }
    }

    /// `HANDLE.FIELD`: the fields a handle shows (`src.id`).
    pub fn field(&self, name: &str) -> Option<Value> {
        match (self, name) {
            (Handle::WatchSource(s), "id") => Some(Value::Int(s.id)),
            _ => None,
        }
    }

    fn addr(&self) -> usize {
        match self {
            Handle::EventfdCtx(a) => Arc::as_ptr(a) as *const () as usize,
            Handle::EventfdWait(a) => Arc::as_ptr(a) as *const () as usize,
            Handle::WatchSource(a) => Arc::as_ptr(a) as *const () as usize,
            Handle::Mailbox(a) => Arc::as_ptr(a) as *const () as usize,
        }
    }
}

#[derive(Clone, Default)]
pub enum Value {
    /// Never bound in this execution.
    #[default]
    Unset,
    Int(u64),
    Errno(Errno),
    /// A signal result token (`SIGSEGV`, `SIGBUS`): a memory access that
    /// faulted. Distinct from errnos, printed by name.
    Signal(Signal),
    Bytes(Rc<[u8]>),
    Str(Rc<str>),
    Record(Rc<[(&'static str, Value)]>),
    List(Rc<[Value]>),
    Handle(Handle),
    /// `NULL`: an absent pointer argument.
    Null,
}

impl Value {
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(Rc::from(b))
    }

    pub fn is_errno(&self) -> bool {
        matches!(self, Value::Errno(_))
    }

    pub fn is_signal(&self) -> bool {
        matches!(self, Value::Signal(_))
    }

    /// Truth in `check` and `&&`/`||`: non-zero integers.
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Int(n) => Some(*n != 0),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::Unset => "unset",
            Value::Int(_) => "an integer",
            Value::Errno(_) => "an errno",
            Value::Signal(_) => "a signal",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "a string",
            Value::Record(_) => "a record",
            Value::List(_) => "a list",
            Value::Handle(_) => "a kernel handle",
            Value::Null => "NULL",
        }
    }

    /// Rendering for outcome histograms: as [`fmt::Display`], where handles
    /// already show only their type, so that the same outcome reached
    /// through different schedules (different object ids) counts once.
    pub fn outcome(&self) -> String {
        self.to_string()
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Unset, Value::Unset) | (Value::Null, Value::Null) => true,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Errno(a), Value::Errno(b)) => a == b,
            (Value::Signal(a), Value::Signal(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Record(a), Value::Record(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Handle(a), Value::Handle(b)) => a.addr() == b.addr(),
            _ => false,
        }
    }
}

/// Write bytes as the language's `b"..."` literal.
pub fn fmt_bytes(f: &mut impl fmt::Write, b: &[u8]) -> fmt::Result {
    f.write_str("b\"")?;
    for &c in b {
        match c {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => f.write_char(c as char)?,
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let esc = [b'\\', b'x', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]];
                f.write_str(std::str::from_utf8(&esc).unwrap_or_default())?
            }
        }
    }
    f.write_str("\"")
}

/// `n` in decimal, as `write!(f, "{n}")` writes it, without the formatting
/// machinery: an execution's outcome prints every bound value.
fn write_u64(f: &mut impl fmt::Write, mut n: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // SAFETY: `buf[i..]` holds only the ASCII digits written above.
    f.write_str(unsafe { std::str::from_utf8_unchecked(&buf[i..]) })
}

/// Where [`Value`]'s `Display` gathers a value's text, to hand it to the
/// formatter in few `write_str` calls (each goes through `dyn Write` and
/// appends to the destination separately: a record field or a byte was
/// one call each).
struct Staged<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    len: usize,
    buf: [u8; 128],
}

impl Staged<'_, '_> {
    fn flush(&mut self) -> fmt::Result {
        // SAFETY: `buf[..len]` is a concatenation of whole `&str`s (see
        // `write_str` and `write_char`, the only writers), so valid UTF-8.
        let s = unsafe { std::str::from_utf8_unchecked(&self.buf[..self.len]) };
        self.len = 0;
        self.f.write_str(s)
    }
}

impl fmt::Write for Staged<'_, '_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() > self.buf.len() - self.len {
            self.flush()?;
            if s.len() > self.buf.len() {
                return self.f.write_str(s);
            }
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }

    #[inline]
    fn write_char(&mut self, c: char) -> fmt::Result {
        if c.is_ascii() && self.len < self.buf.len() {
            self.buf[self.len] = c as u8;
            self.len += 1;
            Ok(())
        } else {
            self.write_str(c.encode_utf8(&mut [0; 4]))
        }
    }
}

impl Value {
    /// The text of [`fmt::Display`], into `w`.
    pub(crate) fn render(&self, w: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Value::Unset => w.write_str("unset"),
            Value::Null => w.write_str("NULL"),
            Value::Int(n) => write_u64(w, *n),
            Value::Errno(e) => w.write_str(e.name()),
            Value::Signal(s) => w.write_str(s.name()),
            Value::Bytes(b) => fmt_bytes(w, b),
            Value::Str(s) => write!(w, "{s:?}"),
            Value::Record(fields) => {
                w.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        w.write_str(", ")?;
                    }
                    w.write_str(k)?;
                    w.write_str(": ")?;
                    v.render(w)?;
                }
                w.write_str("}")
            }
            Value::List(items) => {
                w.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        w.write_str(", ")?;
                    }
                    v.render(w)?;
                }
                w.write_str("]")
            }
            Value::Handle(h) => {
                w.write_str("<")?;
                w.write_str(h.type_name())?;
                w.write_str(">")
            }
        }
    }
}

/// Values print as the language writes them; width and fill options do not
/// apply.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // One piece of text already.
            Value::Unset => f.write_str("unset"),
            Value::Null => f.write_str("NULL"),
            Value::Errno(e) => f.write_str(e.name()),
            Value::Signal(s) => f.write_str(s.name()),
            Value::Int(n) => write_u64(f, *n),
            _ => {
                let mut s = Staged { f, len: 0, buf: [0; 128] };
                self.render(&mut s)?;
                s.flush()
            }
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_the_language_writes_it() {
        assert_eq!(Value::Int(u64::MAX).to_string(), "18446744073709551615");
        for n in [0, 7, 10, 4096, 1 << 63] {
            assert_eq!(Value::Int(n).to_string(), n.to_string());
        }
        let l = Value::List(Rc::from(vec![Value::Int(3), Value::Errno(Errno::EBADF), Value::Null]));
        assert_eq!(l.to_string(), "[3, EBADF, NULL]");
        // Longer than the staging buffer, with escapes across its end.
        let long: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let mut want = String::from("b\"");
        for &c in &long {
            match c {
                b'"' => want.push_str("\\\""),
                b'\\' => want.push_str("\\\\"),
                b'\n' => want.push_str("\\n"),
                b'\t' => want.push_str("\\t"),
                0x20..=0x7e => want.push(c as char),
                _ => want.push_str(&format!("\\x{c:02x}")),
            }
        }
        want.push('"');
        assert_eq!(Value::bytes(&long).to_string(), want);
        let nested = Value::List(Rc::from(vec![Value::bytes(&long), Value::Str(Rc::from("q\"é"))]));
        assert_eq!(nested.to_string(), format!("[{want}, \"q\\\"é\"]"));
        assert_eq!(Value::Errno(Errno::EAGAIN).to_string(), "EAGAIN");
        assert_eq!(Value::bytes(b"a\"\\\x00\x7f\n").to_string(), r#"b"a\"\\\x00\x7f\n""#);
        assert_eq!(Value::Str(Rc::from("anon_inode:[eventfd]")).to_string(), "\"anon_inode:[eventfd]\"");
        let r = Value::Record(Rc::from(vec![("api", Value::Int(170)), ("features", Value::Int(0))]));
        assert_eq!(r.to_string(), "{api: 170, features: 0}");
    }

    #[test]
    fn equality_is_structural_and_typed() {
        assert_eq!(Value::Int(1), Value::Int(1));
        assert_ne!(Value::Int(11), Value::Errno(Errno::EAGAIN));
        assert_ne!(Value::Int(11), Value::Signal(Signal::SIGSEGV));
        assert_eq!(Value::Signal(Signal::SIGBUS).to_string(), "SIGBUS");
        assert_ne!(Value::Unset, Value::Int(0));
        assert_eq!(Value::bytes(&[1, 0]), Value::bytes(&[1, 0]));
    }
}
