//! The page's URL parameters: `?backend=cpu|webgpu` (state), `?workers=N` (worker), `?bench[=N]`
//! and `?selftest` (main).

/// A query parameter of the page's URL.
pub fn query(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}
