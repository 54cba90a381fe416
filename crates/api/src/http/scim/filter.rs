//! The part of SCIM's filter language Tessera answers (RFC 7644 §3.4.2.2): one
//! attribute compared for equality with a value, `attr eq "value"` — what directory
//! clients send to find a resource before creating it. Anything else is refused with
//! `invalidFilter`.

/// `attribute eq value`, with the attribute as written (compared without regard to
/// case by the caller) and the value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equality {
    pub attribute: String,
    pub value: String,
}

/// Parses one comparison: `<attrPath> <op> <value>` with a quoted string, `true`,
/// `false`, `null` or a number as the value. Only `eq` is answered.
pub fn parse(raw: &str) -> Result<Equality, String> {
    let text = raw.trim();
    let (attribute, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| "expected `attribute eq value`".to_owned())?;
    let rest = rest.trim_start();
    let (op, value) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| "expected `attribute eq value`".to_owned())?;
    if !attribute
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._:$-".contains(c))
        || attribute.is_empty()
    {
        return Err(format!("{attribute:?} is not an attribute path"));
    }
    if !op.eq_ignore_ascii_case("eq") {
        return Err(format!("only `eq` is supported here, not {op:?}"));
    }
    Ok(Equality {
        attribute: attribute.to_owned(),
        value: literal(value.trim())?,
    })
}

/// A filter value: a JSON string (with its escapes), or a bare literal.
pub fn literal(value: &str) -> Result<String, String> {
    if value.starts_with('"') {
        return match serde_json::from_str::<String>(value) {
            Ok(text) => Ok(text),
            Err(_) => Err("the value's string is not closed, or has text after it".to_owned()),
        };
    }
    let bare =
        value == "true" || value == "false" || value == "null" || (!value.is_empty() && value.parse::<f64>().is_ok());
    if bare {
        Ok(value.to_owned())
    } else {
        Err(format!("{value:?} is not a value: quote strings"))
    }
}

/// The attribute's last name, without a schema URN before it (`urn:…:User:userName`
/// is `userName`).
pub fn bare_attribute(attribute: &str) -> &str {
    if attribute.to_ascii_lowercase().starts_with("urn:") {
        attribute.rsplit(':').next().unwrap_or(attribute)
    } else {
        attribute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_on_one_attribute_is_understood() {
        assert_eq!(
            parse(r#"userName eq "ada@acme.test""#),
            Ok(Equality {
                attribute: "userName".into(),
                value: "ada@acme.test".into()
            })
        );
        assert_eq!(parse(r#"externalId EQ "a \"b\"""#).expect("accepted").value, r#"a "b""#);
        assert_eq!(parse("active eq true").expect("accepted").value, "true");
        assert_eq!(
            bare_attribute("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            "userName"
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "userName",
            r#"userName co "ada""#,
            r#"userName eq ada"#,
            r#"userName eq "ada" and active eq true"#,
            r#"userName eq "ada"#,
            r#"(userName eq "ada")"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
