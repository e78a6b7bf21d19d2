//! A Sigma `condition`: search identifiers joined by `and`, `or`, `not`, parentheses and
//! `1 of`/`all of` a pattern or `them`, parsed into a tree over the searches' indexes.
//!
//! Precedence, least to most binding: `or`, `and`, `not`, `x of`, parentheses.

/// Nesting allowed in a condition (parentheses and `not`), so that a hostile file cannot
/// exhaust the stack of the parser or of the evaluation.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Search(usize),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
}

/// Parses `text` over the search identifiers `names` (a `Cond::Search` is an index into
/// them).
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Cond, String> {
    if text.contains('|') {
        return Err(
            "aggregations after `|` (count, near) are not supported: Sigma correlation rules replace them"
                .into(),
        );
    }
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c == '(' || c == ')' || c.is_whitespace() {
            if !word.is_empty() {
                tokens.push(Token::Word(std::mem::take(&mut word)));
            }
            match c {
                '(' => tokens.push(Token::Open),
                ')' => tokens.push(Token::Close),
                _ => {}
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        tokens.push(Token::Word(word));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        names,
    };
    let cond = parser.or(0)?;
    match parser.tokens.get(parser.at) {
        None => Ok(cond),
        Some(token) => Err(format!(
            "condition: unexpected {} after a complete expression",
            shown(token)
        )),
    }
}

fn shown(token: &Token) -> String {
    match token {
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Word(w) => format!("`{w}`"),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self, depth: usize) -> Result<Cond, String> {
        let mut parts = vec![self.and(depth)?];
        while self.keyword("or") {
            self.at += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, String> {
        let mut parts = vec![self.not(depth)?];
        while self.keyword("and") {
            self.at += 1;
            parts.push(self.not(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Cond, String> {
        if depth > MAX_DEPTH {
            return Err(format!("condition: nested more than {MAX_DEPTH} deep"));
        }
        if self.keyword("not") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Cond, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            None => Err("condition: ends where a search was expected".into()),
            Some(Token::Open) => {
                let inner = self.or(depth + 1)?;
                match self.tokens.get(self.at) {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("condition: `(` without `)`".into()),
                }
            }
            Some(Token::Close) => Err("condition: `)` without `(`".into()),
            Some(Token::Word(word)) => {
                let quantifier = match word.to_ascii_lowercase().as_str() {
                    "1" | "any" => Some(false),
                    "all" => Some(true),
                    _ => None,
                };
                if let Some(all) = quantifier
                    && self.keyword("of")
                {
                    self.at += 1;
                    let Some(Token::Word(pattern)) = self.tokens.get(self.at).cloned() else {
                        return Err(format!(
                            "condition: `{word} of` without a pattern or `them`"
                        ));
                    };
                    self.at += 1;
                    let chosen: Vec<Cond> = if pattern == "them" {
                        self.names
                            .iter()
                            .enumerate()
                            .filter(|(_, name)| !name.starts_with('_'))
                            .map(|(i, _)| Cond::Search(i))
                            .collect()
                    } else {
                        self.names
                            .iter()
                            .enumerate()
                            .filter(|(_, name)| glob(&pattern, name))
                            .map(|(i, _)| Cond::Search(i))
                            .collect()
                    };
                    if chosen.is_empty() {
                        return Err(format!("condition: `{word} of {pattern}` names no search"));
                    }
                    return Ok(if all {
                        Cond::And(chosen)
                    } else {
                        Cond::Or(chosen)
                    });
                }
                if ["and", "or", "of"].contains(&word.to_ascii_lowercase().as_str()) {
                    return Err(format!("condition: `{word}` where a search was expected"));
                }
                match self.names.iter().position(|name| *name == word) {
                    Some(i) => Ok(Cond::Search(i)),
                    None => Err(format!(
                        "condition: `{word}` is not a search of the detection"
                    )),
                }
            }
        }
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "selection",
            "selection_uri",
            "selection_agent",
            "filter_main_a",
            "_hidden",
            "keywords",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn the_shapes_the_sigma_rules_use() {
        let n = names();
        assert_eq!(parse("selection", &n).unwrap(), Cond::Search(0));
        assert_eq!(
            parse("selection and 1 of selection_*", &n).unwrap(),
            Cond::And(vec![
                Cond::Search(0),
                Cond::Or(vec![Cond::Search(1), Cond::Search(2)])
            ])
        );
        assert_eq!(
            parse("all of selection* and not 1 of filter_main_*", &n).unwrap(),
            Cond::And(vec![
                Cond::And(vec![Cond::Search(0), Cond::Search(1), Cond::Search(2)]),
                Cond::Not(Box::new(Cond::Or(vec![Cond::Search(3)])))
            ])
        );
        // `them` leaves out identifiers starting with `_`.
        assert_eq!(
            parse("1 of them", &n).unwrap(),
            Cond::Or([0, 1, 2, 3, 5].map(Cond::Search).to_vec())
        );
        // `or` binds least.
        assert_eq!(
            parse("selection or keywords and not filter_main_a", &n).unwrap(),
            Cond::Or(vec![
                Cond::Search(0),
                Cond::And(vec![Cond::Search(5), Cond::Not(Box::new(Cond::Search(3)))])
            ])
        );
        assert_eq!(
            parse("selection and (keywords or _hidden)", &n).unwrap(),
            Cond::And(vec![
                Cond::Search(0),
                Cond::Or(vec![Cond::Search(5), Cond::Search(4)])
            ])
        );
    }

    #[test]
    fn bad_conditions_say_what_is_wrong() {
        let n = names();
        for (text, reason) in [
            ("selection | count() > 5", "correlation"),
            ("selection and", "ends where a search"),
            ("selection and missing", "`missing` is not a search"),
            ("(selection", "without `)`"),
            ("selection)", "unexpected `)`"),
            ("1 of nothing_*", "names no search"),
            ("selection selection", "unexpected `selection`"),
            ("and selection", "`and` where a search"),
        ] {
            let error = parse(text, &n).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
        let deep = format!("{}selection{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep, &n).unwrap_err().contains("nested more than"));
        let nots = format!("{}selection", "not ".repeat(10_000));
        assert!(parse(&nots, &n).unwrap_err().contains("nested more than"));
    }

    #[test]
    fn patterns_take_stars_anywhere() {
        assert!(glob("selection_*", "selection_uri"));
        assert!(glob("*_uri", "selection_uri"));
        assert!(glob("sel*_*i", "selection_uri"));
        assert!(!glob("selection_*", "selection"));
        assert!(glob("selection*", "selection"));
    }
}
