//! The parsers' cursor over the tokens of a query, and the nesting bound both parsers keep.

use crate::error::{Error, Result};
use crate::lex::{Pos, Tok, Token};

/// How deep a query may nest (parentheses, prefix operators, operands of operators) before it
/// is refused with "query too deeply nested" (a parse error). Validating, printing, comparing
/// and dropping the deepest query taken fit in a 256 KiB stack in a debug build.
pub const MAX_NESTING: usize = 128;

/// The tokens of a query and the place reached in them.
pub(crate) struct Parser {
    toks: Vec<Token>,
    at: usize,
}

impl Parser {
    /// A parser at the first of `toks` (which end with [`Tok::End`]).
    pub(crate) fn new(toks: Vec<Token>) -> Self {
        Self { toks, at: 0 }
    }

    pub(crate) fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    pub(crate) fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.at + n).min(self.toks.len() - 1)].tok
    }

    pub(crate) fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    pub(crate) fn pos(&self) -> Pos {
        self.peek().pos
    }

    pub(crate) fn is(&self, sym: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(s) if *s == sym)
    }

    pub(crate) fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if *w == word)
    }

    pub(crate) fn eat(&mut self, sym: &str) -> bool {
        let found = self.is(sym);
        if found {
            self.next();
        }
        found
    }

    /// `syntax error: unexpected X` at the current token.
    pub(crate) fn unexpected(&self) -> Error {
        let t = self.peek();
        t.pos
            .error(format!("syntax error: unexpected {}", t.tok.describe()))
    }

    pub(crate) fn expect(&mut self, sym: &str) -> Result<()> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.expecting(sym))
        }
    }

    /// `syntax error: unexpected X, expecting sym` at the current token.
    pub(crate) fn expecting(&self, sym: &str) -> Error {
        let t = self.peek();
        t.pos.error(format!(
            "syntax error: unexpected {}, expecting {sym}",
            t.tok.describe()
        ))
    }

    /// An integer without a sign (`topk(10)`, `compare(…, 10)`).
    pub(crate) fn int(&mut self) -> Result<i64> {
        match self.peek().tok {
            Tok::Int(n) => {
                self.next();
                Ok(n)
            }
            _ => Err(self.unexpected()),
        }
    }

    pub(crate) fn too_deep(&self, pos: Pos) -> Error {
        pos.error(format!(
            "query too deeply nested (more than {MAX_NESTING} levels)"
        ))
    }

    /// Refuses a tree `depth` levels deep past [`MAX_NESTING`].
    pub(crate) fn check_depth(&self, depth: usize, pos: Pos) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(self.too_deep(pos));
        }
        Ok(())
    }
}
