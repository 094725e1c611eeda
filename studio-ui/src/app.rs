// SPDX-License-Identifier: MPL-2.0
//! The pages of the studio and the root component every liveview socket runs.
//!
//! Each page is its own address and its own socket: links are plain links,
//! so the back button, bookmarks and opening in a new tab work as usual.

use dioxus::prelude::*;

use crate::api::StudioApi;
use crate::pages::{
    Account, CharacterLibrary, Jobs, Login, Models, ProjectPage, Projects, Studio, StudioSession, SubtitleEditor,
    VoiceLibrary,
};

/// A page of the studio, parsed from its address.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Login,
    Signup,
    Projects,
    /// The character library: every character of the user, across projects.
    Characters,
    /// The voice library.
    Voices,
    Project(String),
    /// The subtitle editor of a project.
    Subtitles(String),
    Jobs,
    Studio,
    StudioSession(String),
    Account,
    /// The models the server runs, with their licences; administrators install more here.
    Models,
}

/// Ids in addresses: UUIDs (projects) or 32 hex digits (live sessions).
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Page {
    /// The page at `path` (`/projects/{id}`), if there is one.
    pub fn parse(path: &str) -> Option<Page> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["login"] => Some(Page::Login),
            ["signup"] => Some(Page::Signup),
            ["projects"] => Some(Page::Projects),
            ["characters"] => Some(Page::Characters),
            ["voices"] => Some(Page::Voices),
            ["projects", id] if valid_id(id) => Some(Page::Project(id.to_ascii_lowercase())),
            ["projects", id, "subtitles"] if valid_id(id) => Some(Page::Subtitles(id.to_ascii_lowercase())),
            ["jobs"] => Some(Page::Jobs),
            ["studio"] => Some(Page::Studio),
            ["studio", id] if valid_id(id) => Some(Page::StudioSession(id.to_ascii_lowercase())),
            ["account"] => Some(Page::Account),
            ["models"] => Some(Page::Models),
            _ => None,
        }
    }

    /// The page's address; built from validated parts only.
    pub fn path(&self) -> String {
        match self {
            Page::Login => "/login".into(),
            Page::Signup => "/signup".into(),
            Page::Projects => "/projects".into(),
            Page::Characters => "/characters".into(),
            Page::Voices => "/voices".into(),
            Page::Project(id) => format!("/projects/{id}"),
            Page::Subtitles(id) => format!("/projects/{id}/subtitles"),
            Page::Jobs => "/jobs".into(),
            Page::Studio => "/studio".into(),
            Page::StudioSession(id) => format!("/studio/{id}"),
            Page::Account => "/account".into(),
            Page::Models => "/models".into(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Page::Login => "Sign in",
            Page::Signup => "Sign up",
            Page::Projects => "Projects",
            Page::Characters => "Characters",
            Page::Voices => "Voices",
            Page::Project(_) => "Project",
            Page::Subtitles(_) => "Subtitles",
            Page::Jobs => "Jobs",
            Page::Studio | Page::StudioSession(_) => "Live studio",
            Page::Account => "Account",
            Page::Models => "Models",
        }
    }

    /// Every page but the sign-in ones needs a signed-in user.
    pub fn needs_account(&self) -> bool {
        !matches!(self, Page::Login | Page::Signup)
    }
}

/// What a socket's virtual DOM starts from.
#[derive(Debug, Clone)]
pub(crate) struct RootProps {
    pub(crate) page: Page,
    pub(crate) api: StudioApi,
}

/// The root of every page: provides the API handle, then shows the page.
pub(crate) fn root(props: RootProps) -> Element {
    use_context_provider(|| props.api.clone());
    match props.page {
        Page::Login => rsx! { Login { signup: false } },
        Page::Signup => rsx! { Login { signup: true } },
        Page::Projects => rsx! { Projects {} },
        Page::Characters => rsx! { CharacterLibrary {} },
        Page::Voices => rsx! { VoiceLibrary {} },
        Page::Project(id) => rsx! { ProjectPage { id } },
        Page::Subtitles(id) => rsx! { SubtitleEditor { id } },
        Page::Jobs => rsx! { Jobs {} },
        Page::Studio => rsx! { Studio {} },
        Page::StudioSession(id) => rsx! { StudioSession { id } },
        Page::Account => rsx! { Account {} },
        Page::Models => rsx! { Models {} },
    }
}

/// Sends the browser to `path` (a full page load: each page is its own socket).
pub(crate) fn go_to(path: &str) {
    let target = serde_json::to_string(path).unwrap_or_else(|_| "\"/\"".into());
    let _ = dioxus::document::eval(&format!("window.location.assign({target})"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_parse_and_print_back() {
        let id = "0f8e2c1a-1111-4222-8333-944455556666";
        for page in [
            Page::Login,
            Page::Projects,
            Page::Characters,
            Page::Voices,
            Page::Project(id.into()),
            Page::Subtitles(id.into()),
            Page::StudioSession("ab12".into()),
            Page::Models,
        ] {
            assert_eq!(Page::parse(&page.path()), Some(page));
        }
        assert_eq!(Page::parse("/projects/../etc"), None);
        assert_eq!(Page::parse("/projects/<script>"), None);
    }
}
