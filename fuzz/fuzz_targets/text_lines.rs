//! cargo fuzz target `text_lines`: the input goes through `bevy_bfn::train::fuzzing::text_lines`, which `tests/robustness.rs` runs
//! the regression corpus through too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = bevy_bfn::train::fuzzing::text_lines(data);
});
