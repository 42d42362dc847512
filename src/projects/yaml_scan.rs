//! Counts the items of a YAML `List` as the client's output streams past, without
//! parsing or holding it: the projects source stores the bytes as they come and needs
//! only to know whether the list was empty and how many objects it held.
//!
//! The client prints lists the way go-yaml does: top-level keys at column 0, `items:`
//! followed by its entries, each starting with `- ` at one fixed indentation (0 or
//! 2), and an empty list as `items: []`. Only the first bytes of each line are looked
//! at; nested sequences are indented deeper than the items, and block scalars deeper
//! still, so they are never counted.

use std::io::{self, Read};

/// How many leading bytes of each line are inspected.
const HEAD_BYTES: usize = 16;

/// What a scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSummary {
    /// A top-level `items: []` was seen.
    pub empty: bool,
    /// Entries of the top-level `items` sequence.
    pub items: u64,
}

/// A reader that passes bytes through unchanged and counts list items on the way.
pub struct ListScan<R> {
    inner: R,
    head: [u8; HEAD_BYTES],
    head_len: usize,
    line_len: usize,
    in_items: bool,
    item_indent: Option<usize>,
    summary: ListSummary,
}

impl<R: Read> ListScan<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            head: [0; HEAD_BYTES],
            head_len: 0,
            line_len: 0,
            in_items: false,
            item_indent: None,
            summary: ListSummary {
                empty: false,
                items: 0,
            },
        }
    }

    /// The result so far; complete once the stream was read to its end.
    pub fn summary(&self) -> ListSummary {
        self.summary
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line();
            } else {
                if self.head_len < HEAD_BYTES {
                    self.head[self.head_len] = b;
                    self.head_len += 1;
                }
                self.line_len += 1;
            }
        }
    }

    fn end_line(&mut self) {
        let head = &self.head[..self.head_len];
        let indent = head.iter().take_while(|b| **b == b' ').count();
        let text = &head[indent..];
        let is_entry = text == b"-" || text.starts_with(b"- ");
        if text.is_empty() || text.starts_with(b"#") {
            // Blank, deeply indented or comment lines say nothing about the top level.
        } else if indent == 0 && !is_entry {
            self.in_items = text.starts_with(b"items:") && self.line_len == b"items:".len();
            if text.starts_with(b"items: []") {
                self.summary.empty = true;
            }
        } else if self.in_items && is_entry {
            let expected = *self.item_indent.get_or_insert(indent);
            if indent == expected {
                self.summary.items += 1;
            }
        }
        self.head_len = 0;
        self.line_len = 0;
    }
}

impl<R: Read> Read for ListScan<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.line_len > 0 {
                self.end_line();
            }
        } else {
            self.feed(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, chunk: usize) -> (ListSummary, Vec<u8>) {
        let mut s = ListScan::new(OneByOne(text.as_bytes(), chunk));
        let mut out = Vec::new();
        io::copy(&mut s, &mut out).unwrap();
        (s.summary(), out)
    }

    /// A reader that returns at most `chunk` bytes per call.
    struct OneByOne<'a>(&'a [u8], usize);
    impl Read for OneByOne<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    const TWO_ENDPOINTS: &str = "apiVersion: v1
items:
- apiVersion: v1
  kind: Endpoints
  metadata:
    name: a
  subsets:
  - addresses:
    - ip: 10.128.0.5
- apiVersion: v1
  data:
    script: |
      - not an item
      items: []
  kind: ConfigMap
kind: List
metadata:
  resourceVersion: \"\"
  selfLink: \"\"
";

    #[test]
    fn counts_items_and_passes_bytes_through() {
        for chunk in [1, 3, 4096] {
            let (summary, out) = scan(TWO_ENDPOINTS, chunk);
            assert_eq!(
                summary,
                ListSummary {
                    empty: false,
                    items: 2
                }
            );
            assert_eq!(out, TWO_ENDPOINTS.as_bytes());
        }
    }

    #[test]
    fn sees_an_empty_list() {
        let (s, _) = scan(
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
            7,
        );
        assert!(s.empty);
        assert_eq!(s.items, 0);
    }

    #[test]
    fn counts_indented_entries_and_ignores_later_sequences() {
        let text = "items:\n  - kind: A\n    list:\n    - x\n  - kind: B\nkind: List\nother:\n- not an item\n";
        let (s, _) = scan(text, 5);
        assert_eq!(s.items, 2);
        assert!(!s.empty);
    }

    #[test]
    fn a_single_object_has_no_items() {
        let (s, _) = scan(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n",
            4096,
        );
        assert_eq!(
            s,
            ListSummary {
                empty: false,
                items: 0
            }
        );
    }
}
