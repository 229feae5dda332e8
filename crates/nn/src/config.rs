//! Typed reads of upstream `config.json` files (diffusers' `_class_name` configs and
//! transformers' `architectures`/`model_type` configs, schedulers' `scheduler_config.json`):
//! unknown keys are ignored, the class is checked, and every error names the file, the key and
//! what was expected.

use std::path::Path;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// A parsed `config.json`.
#[derive(Debug, Clone)]
pub struct ConfigJson {
    source: String,
    map: Map<String, Value>,
}

impl ConfigJson {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// [`Error::Config`] if the file is missing, unreadable, not JSON or not an object.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            source_name: source.clone(),
            key: String::new(),
            expected: "a readable JSON file".into(),
            got: e.to_string(),
        })?;
        Self::parse(source, &text)
    }

    /// Parses `text`; `source` names it in errors.
    ///
    /// # Errors
    /// [`Error::Config`] if it is not a JSON object.
    pub fn parse(source: impl Into<String>, text: &str) -> Result<Self> {
        let source = source.into();
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Self { source, map }),
            Ok(other) => Err(Error::Config {
                source_name: source,
                key: String::new(),
                expected: "a JSON object".into(),
                got: kind(&other).into(),
            }),
            Err(e) => Err(Error::Config {
                source_name: source,
                key: String::new(),
                expected: "JSON".into(),
                got: e.to_string(),
            }),
        }
    }

    /// A config from an already parsed object.
    pub fn from_map(source: impl Into<String>, map: Map<String, Value>) -> Self {
        Self {
            source: source.into(),
            map,
        }
    }

    /// Where the config came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether `key` is present, `null` included (diffusers writes `"mid_block_type": null` to
    /// mean "none", unlike a missing key, which means the default).
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The class the config is for: diffusers' `_class_name`, else the first of transformers'
    /// `architectures`.
    pub fn class_name(&self) -> Option<&str> {
        self.get("_class_name")
            .and_then(Value::as_str)
            .or_else(|| self.get("architectures")?.as_array()?.first()?.as_str())
    }

    /// Checks that [`ConfigJson::class_name`] is one of `accepted` (a config without a class name
    /// passes: hand-written configs often omit it).
    ///
    /// # Errors
    /// [`Error::Config`] naming the class found and the ones accepted.
    pub fn check_class(&self, accepted: &[&str]) -> Result<()> {
        match self.class_name() {
            Some(c) if !accepted.contains(&c) => Err(self.error(
                if self.map.contains_key("_class_name") {
                    "_class_name"
                } else {
                    "architectures"
                },
                format!("one of {accepted:?}"),
                format!("{c:?}"),
            )),
            _ => Ok(()),
        }
    }

    /// An [`Error::Config`] for `key` in this file.
    pub fn error(&self, key: &str, expected: impl Into<String>, got: impl Into<String>) -> Error {
        Error::Config {
            source_name: self.source.clone(),
            key: key.to_string(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    fn typed<T>(
        &self,
        key: &str,
        what: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v)
                .map(Some)
                .ok_or_else(|| self.error(key, what.to_string(), short(v))),
        }
    }

    fn required<T>(&self, key: &str, what: &str, v: Result<Option<T>>) -> Result<T> {
        v?.ok_or_else(|| self.error(key, what.to_string(), "nothing (the key is missing)"))
    }

    /// A non-negative integer, if present.
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type.
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        self.typed(key, "a non-negative integer", |v| {
            v.as_u64().and_then(|u| usize::try_from(u).ok())
        })
    }

    /// A required non-negative integer.
    ///
    /// # Errors
    /// [`Error::Config`] if missing or of another type.
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.required(key, "a non-negative integer", self.opt_usize(key))
    }

    /// A number, if present.
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        self.typed(key, "a number", Value::as_f64)
    }

    /// A required number.
    ///
    /// # Errors
    /// [`Error::Config`] if missing or of another type.
    pub fn f64(&self, key: &str) -> Result<f64> {
        self.required(key, "a number", self.opt_f64(key))
    }

    /// A boolean, if present.
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "true or false", Value::as_bool)
    }

    /// A string, if present.
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.error(key, "a string", short(v))),
        }
    }

    /// A list of non-negative integers, if present; a single integer counts as a list of one
    /// repeated `len` times when `len` is given (diffusers' per-block ints such as
    /// `transformer_layers_per_block: 1`).
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type, or a list of another length than `len`.
    pub fn opt_usize_list(&self, key: &str, len: Option<usize>) -> Result<Option<Vec<usize>>> {
        let what = match len {
            Some(n) => format!("a list of {n} non-negative integers (or one integer)"),
            None => "a list of non-negative integers".to_string(),
        };
        let list = self.typed(key, &what, |v| match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_u64().and_then(|u| usize::try_from(u).ok()))
                .collect::<Option<Vec<_>>>(),
            Value::Number(_) => {
                let n = usize::try_from(v.as_u64()?).ok()?;
                Some(vec![n; len?])
            }
            _ => None,
        })?;
        match (list, len) {
            (Some(l), Some(n)) if l.len() != n => {
                Err(self.error(key, what, format!("{} values", l.len())))
            }
            (l, _) => Ok(l),
        }
    }

    /// The nested object `key` as a config of its own, whose errors name `source → key`; an
    /// empty one when `key` is missing or `null` (its reads then give their defaults).
    ///
    /// # Errors
    /// [`Error::Config`] if present and not an object.
    pub fn object(&self, key: &str) -> Result<ConfigJson> {
        let source = format!("{} → {key}", self.source);
        match self.get(key) {
            None => Ok(ConfigJson::from_map(source, Map::new())),
            Some(Value::Object(map)) => Ok(ConfigJson::from_map(source, map.clone())),
            Some(v) => Err(self.error(key, "an object", short(v))),
        }
    }

    /// A list of strings, if present.
    ///
    /// # Errors
    /// [`Error::Config`] if present with another type.
    pub fn opt_str_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        self.typed(key, "a list of strings", |v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_values_and_names_bad_keys() {
        let c = ConfigJson::parse(
            "config.json",
            r#"{"_class_name": "UNet2DConditionModel", "in_channels": 4, "norm_eps": 1e-5,
                "block_out_channels": [320, 640], "layers": 2, "act_fn": "silu", "x": null,
                "bad": "four", "unknown_key": {"a": 1}}"#,
        )
        .expect("json");
        assert_eq!(c.usize("in_channels").ok(), Some(4));
        assert_eq!(c.f64("norm_eps").ok(), Some(1e-5));
        assert_eq!(
            c.opt_usize_list("block_out_channels", Some(2))
                .ok()
                .flatten(),
            Some(vec![320, 640])
        );
        assert_eq!(
            c.opt_usize_list("layers", Some(3)).ok().flatten(),
            Some(vec![2, 2, 2])
        );
        assert_eq!(c.opt_usize("x").ok(), Some(None));
        assert!(c.check_class(&["UNet2DConditionModel"]).is_ok());
        let e = c
            .check_class(&["AutoencoderKL"])
            .expect_err("class")
            .to_string();
        assert!(
            e.contains("_class_name") && e.contains("UNet2DConditionModel"),
            "{e}"
        );
        let e = c.usize("bad").expect_err("type").to_string();
        assert!(
            e.contains("`bad`") && e.contains("non-negative integer") && e.contains("\"four\""),
            "{e}"
        );
        let e = c.usize("missing").expect_err("missing").to_string();
        assert!(e.contains("`missing`") && e.contains("missing"), "{e}");
        let e = c
            .opt_usize_list("block_out_channels", Some(3))
            .expect_err("len")
            .to_string();
        assert!(e.contains("list of 3"), "{e}");
        assert!(ConfigJson::parse("c", "[1]").is_err());
        assert!(ConfigJson::parse("c", "{").is_err());
    }
}
