//! The portal's two languages, as Fluent message files built into the binary: zh-CN, the
//! default, and English.

use std::borrow::Cow;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language a cookie value or a `?lang=` names; anything else is zh-CN.
    pub fn parse(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("en") || code.to_ascii_lowercase().starts_with("en-") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// The other language, which the switch in the header offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The policy crate's language of explanations.
    pub fn explanation(self) -> errandless_policy::Lang {
        match self {
            Lang::Zh => errandless_policy::Lang::Zh,
            Lang::En => errandless_policy::Lang::En,
        }
    }

    /// Picks the text of this language from a bilingual pair.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

const ZH: &str = include_str!("../../locales/zh-CN/portal.ftl");
const EN: &str = include_str!("../../locales/en/portal.ftl");

/// Both languages' messages.
pub struct Messages {
    zh: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Messages")
    }
}

fn bundle(tag: &str, source: &str) -> Result<FluentBundle<FluentResource>, String> {
    let lang: unic_langid::LanguageIdentifier = tag.parse().map_err(|e| format!("{tag}: {e}"))?;
    let resource = FluentResource::try_new(source.to_owned())
        .map_err(|(_, errors)| format!("{tag}: {errors:?}"))?;
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // The pages are plain HTML: no Unicode isolation marks around arguments.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| format!("{tag}: {errors:?}"))?;
    Ok(bundle)
}

impl Messages {
    /// The built-in message files. They are checked by the tests, so this fails only if the
    /// binary was built from broken files.
    pub fn builtin() -> Result<Messages, String> {
        Ok(Messages {
            zh: bundle("zh-CN", ZH)?,
            en: bundle("en", EN)?,
        })
    }

    fn of(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// The message `id` in `lang`, with `args`; a missing message shows its id (and is
    /// logged), so a page never fails for want of a word.
    pub fn get(&self, lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
        let bundle = self.of(lang);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(id, lang = lang.tag(), "a portal message is missing");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text: Cow<'_, str> = if args.is_empty() {
            bundle.format_pattern(pattern, None, &mut errors)
        } else {
            let mut fluent = FluentArgs::new();
            for (name, value) in args {
                fluent.set(*name, FluentValue::from(*value));
            }
            bundle.format_pattern(pattern, Some(&fluent), &mut errors)
        };
        text.into_owned()
    }

    /// The ids of every message of `lang`, for the tests.
    #[cfg(test)]
    pub fn ids(&self, lang: Lang) -> Vec<String> {
        let source = match lang {
            Lang::Zh => ZH,
            Lang::En => EN,
        };
        source
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
            .filter(|id| !id.starts_with('#') && !id.is_empty())
            .collect()
    }
}

/// The messages of one language, as a page's template sees them.
#[derive(Clone, Copy, Debug)]
pub struct Tr<'a> {
    pub lang: Lang,
    pub messages: &'a Messages,
}

impl Tr<'_> {
    /// A message without arguments.
    pub fn t(&self, id: &str) -> String {
        self.messages.get(self.lang, id, &[])
    }

    /// A message with one argument.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        self.messages.get(self.lang, id, &[(name, value)])
    }

    /// A message with arguments.
    pub fn tn(&self, id: &str, args: &[(&str, &str)]) -> String {
        self.messages.get(self.lang, id, args)
    }

    /// Picks the text of this language from a bilingual pair.
    pub fn pick<'b>(&self, zh: &'b str, en: &'b str) -> &'b str {
        self.lang.pick(zh, en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_parse_and_have_the_same_messages() {
        let messages = Messages::builtin().expect("the message files parse");
        let mut zh = messages.ids(Lang::Zh);
        let mut en = messages.ids(Lang::En);
        zh.sort();
        en.sort();
        assert!(zh.len() > 50, "{} messages", zh.len());
        assert_eq!(zh, en, "zh-CN and en must name the same messages");
        for id in &zh {
            assert_ne!(messages.get(Lang::Zh, id, &[]), *id, "{id} in zh-CN");
            assert_ne!(messages.get(Lang::En, id, &[]), *id, "{id} in en");
        }
    }

    #[test]
    fn arguments_are_placed_without_isolation_marks() {
        let messages = Messages::builtin().unwrap();
        assert_eq!(
            messages.get(Lang::En, "home-greeting", &[("name", "Li Hua")]),
            "Hello, Li Hua"
        );
        assert_eq!(
            messages.get(Lang::Zh, "home-greeting", &[("name", "李华")]),
            "你好，李华"
        );
        assert_eq!(
            messages.get(Lang::Zh, "no-such-message", &[]),
            "no-such-message"
        );
    }

    #[test]
    fn languages_parse_leniently_to_the_default() {
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::parse("en-GB"), Lang::En);
        assert_eq!(Lang::parse("zh-CN"), Lang::Zh);
        assert_eq!(Lang::parse("<script>"), Lang::Zh);
    }
}
