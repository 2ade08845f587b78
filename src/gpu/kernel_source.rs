//! A kernel described without a device: its WGSL text with the override constants baked in, its entry point
//! and its bind group layout. The standalone path ([`Kernel::compile`](crate::gpu::kernel::Kernel::compile))
//! and the plugin's (Bevy's pipeline cache, which passes no override constants) compile this very text, so
//! both run the same code.

use crate::gpu::kernel::Binding;

/// One compute pipeline to make.
#[derive(Clone, Debug)]
pub(crate) struct KernelSource {
    /// The shader and its specialisation, `matmul EPILOGUE=1u`: one text per name, so a cache of shaders can
    /// key on it.
    pub shader: String,
    /// The WGSL pieces concatenated, the constants baked in.
    pub wgsl: String,
    pub entry: &'static str,
    /// The bindings of a layout shared by several entry points of the shader that use different subsets of
    /// them (an automatic layout holds only the bindings its entry point uses); `None` for the automatic one.
    pub layout: Option<&'static [Binding]>,
}

impl KernelSource {
    /// Entry point `entry` of the WGSL `pieces` (WGSL has no includes: the shared helpers come first), with
    /// each of `constants`, a name and a WGSL literal, in place of the default of its `override` declaration.
    pub fn new(
        name: &str,
        pieces: &[&str],
        entry: &'static str,
        constants: &[(&str, String)],
        layout: Option<&'static [Binding]>,
    ) -> Self {
        let shader = constants
            .iter()
            .fold(name.to_owned(), |label, (constant, value)| {
                format!("{label} {constant}={value}")
            });
        Self {
            shader,
            wgsl: bake(&pieces.concat(), constants),
            entry,
            layout,
        }
    }

    /// The shader's name and the entry point: what a debugger shows of the pipeline.
    pub fn label(&self) -> String {
        format!("{} {}", self.shader, self.entry)
    }
}

/// `wgsl` with each `override NAME: T = default;` line of `constants` rewritten to `const NAME: T = value;`.
/// Panics when a constant has no such line: the kernels name only constants their shaders declare.
fn bake(wgsl: &str, constants: &[(&str, String)]) -> String {
    let mut baked = vec![false; constants.len()];
    let lines: Vec<String> = wgsl
        .lines()
        .map(|line| {
            let declared = line
                .strip_prefix("override ")
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(name, rest)| Some((name.trim(), rest.split_once('=')?.0.trim())));
            let Some((name, ty)) = declared else {
                return line.to_owned();
            };
            match constants.iter().position(|(constant, _)| *constant == name) {
                Some(i) => {
                    baked[i] = true;
                    format!("const {name}: {ty} = {};", constants[i].1)
                }
                None => line.to_owned(),
            }
        })
        .collect();
    if let Some(i) = baked.iter().position(|done| !done) {
        panic!("no `override {}` line to bake", constants[i].0);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_replace_the_defaults_of_their_override_lines() {
        let source = KernelSource::new(
            "step",
            &[
                "// head\n",
                "override KIND: u32 = 0u;\noverride ON: bool = false;\nfn f() {}\n",
            ],
            "main",
            &[("KIND", "2u".into()), ("ON", "true".into())],
            None,
        );
        assert_eq!(source.shader, "step KIND=2u ON=true");
        assert_eq!(source.label(), "step KIND=2u ON=true main");
        assert_eq!(
            source.wgsl,
            "// head\nconst KIND: u32 = 2u;\nconst ON: bool = true;\nfn f() {}"
        );
    }

    #[test]
    #[should_panic(expected = "no `override MISSING` line")]
    fn a_constant_the_shader_does_not_declare_is_refused() {
        KernelSource::new(
            "step",
            &["fn f() {}\n"],
            "main",
            &[("MISSING", "1u".into())],
            None,
        );
    }
}
