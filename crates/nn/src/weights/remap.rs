//! Key remaps as data: an ordered list of rules that every loader applies the same way
//! (`StateDict::renamed(|k| remap.apply(k))`), so a checkpoint layout is described once — e.g.
//! DDP's `module.` prefix, a single-file checkpoint's `first_stage_model.`, transformers'
//! `text_model.` — instead of in hand-written loops per model.

/// One renaming rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRule {
    /// Removes this prefix where present.
    StripPrefix(String),
    /// Adds this prefix.
    AddPrefix(String),
    /// Replaces every occurrence of the first string with the second.
    Replace(String, String),
    /// Drops keys starting with this prefix (e.g. optimizer state, EMA copies).
    Drop(String),
}

/// An ordered list of [`KeyRule`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRemap {
    /// The rules, applied in order.
    pub rules: Vec<KeyRule>,
}

impl KeyRemap {
    /// No renaming.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds [`KeyRule::StripPrefix`].
    pub fn strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.rules.push(KeyRule::StripPrefix(prefix.into()));
        self
    }

    /// Adds [`KeyRule::AddPrefix`].
    pub fn add_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.rules.push(KeyRule::AddPrefix(prefix.into()));
        self
    }

    /// Adds [`KeyRule::Replace`].
    pub fn replace(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.rules.push(KeyRule::Replace(from.into(), to.into()));
        self
    }

    /// Adds [`KeyRule::Drop`].
    pub fn drop_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.rules.push(KeyRule::Drop(prefix.into()));
        self
    }

    /// The new name of `key`, or `None` if a rule drops it.
    pub fn apply(&self, key: &str) -> Option<String> {
        let mut key = key.to_string();
        for rule in &self.rules {
            match rule {
                KeyRule::StripPrefix(p) => {
                    if let Some(rest) = key.strip_prefix(p.as_str()) {
                        key = rest.to_string();
                    }
                }
                KeyRule::AddPrefix(p) => key = format!("{p}{key}"),
                KeyRule::Replace(from, to) => key = key.replace(from.as_str(), to),
                KeyRule::Drop(p) => {
                    if key.starts_with(p.as_str()) {
                        return None;
                    }
                }
            }
        }
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order() {
        let r = KeyRemap::new()
            .drop_prefix("optimizer.")
            .strip_prefix("module.")
            .replace(".nin_shortcut.", ".conv_shortcut.")
            .add_prefix("vae.");
        assert_eq!(
            r.apply("module.decoder.up.0.nin_shortcut.weight")
                .as_deref(),
            Some("vae.decoder.up.0.conv_shortcut.weight")
        );
        assert_eq!(r.apply("optimizer.state"), None);
        assert_eq!(r.apply("x").as_deref(), Some("vae.x"));
    }
}
