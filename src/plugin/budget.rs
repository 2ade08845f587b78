//! What all generators together may spend each frame, and what they cost: a game runs one generator per room or
//! chunk, and twenty generators at 2 ms each would take 40 ms of every frame. [`BfnSettings`] caps the frame
//! for all of them (GPU milliseconds and steps), [`BfnPriority`] weighs a generator's share, and every frame the
//! render world says what it recorded ([`BfnFrame`]) and what the plugin holds on the GPU ([`BfnGpuMemory`]),
//! also as Bevy diagnostics ([`BfnDiagnostics`]).

use bevy::diagnostic::{Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic};
use bevy::prelude::*;

use crate::gpu::GpuMemory;
use crate::plugin::reports::Reports;

/// The game-wide caps on what the generators together record each frame. The default caps nothing: each
/// generator takes what its own settings say. A generator's own `steps_per_frame` and `gpu_budget_ms` stay upper
/// limits under these.
///
/// ```
/// use bevy_bfn::plugin::BfnSettings;
///
/// // 2 ms of GPU time a frame for all generators together, and at most 64 steps where that cannot be measured.
/// let settings = BfnSettings { frame_budget_ms: Some(2.0), max_steps_per_frame: Some(64) };
/// assert!(settings.check().is_ok());
/// assert!(BfnSettings { frame_budget_ms: Some(0.0), ..settings }.check().is_err());
/// ```
#[derive(Resource, Reflect, Clone, Copy, Debug, Default, PartialEq)]
#[reflect(Resource)]
pub struct BfnSettings {
    /// GPU milliseconds a frame for every generator together, at each job's time per step as measured by
    /// timestamp queries. Ignored on a device without timestamp queries: there only `max_steps_per_frame` holds.
    /// When even one step is over it, one step of one generator is taken anyway, so that the flow slows down
    /// rather than stopping.
    pub frame_budget_ms: Option<f32>,
    /// BFN steps a frame for every generator together.
    pub max_steps_per_frame: Option<u32>,
}

impl BfnSettings {
    /// Whether the settings can be used; the error names the setting that cannot.
    pub fn check(&self) -> Result<(), String> {
        if let Some(ms) = self.frame_budget_ms
            && !(ms.is_finite() && ms > 0.0)
        {
            return Err(format!(
                "BfnSettings: frame_budget_ms must be a positive number of milliseconds, not {ms}"
            ));
        }
        if self.max_steps_per_frame == Some(0) {
            return Err(
                "BfnSettings: max_steps_per_frame must be at least 1 (None caps nothing)".into(),
            );
        }
        Ok(())
    }
}

/// A generator's weight in the frame's share (1 without one): when the frame cannot hold every generator's steps,
/// the longest-waiting go first, a generator's wait counting `priority` times. A generator of priority 3 steps
/// about three times as often as one of 1 that wants the same, and none starves.
#[derive(Component, Reflect, Clone, Copy, Debug, PartialEq, Eq)]
#[reflect(Component)]
pub struct BfnPriority(pub u32);

impl Default for BfnPriority {
    fn default() -> Self {
        Self(1)
    }
}

/// Sent for every frame the render world records: which generators stepped and what that cost.
#[derive(Message, Clone, Debug, Default, PartialEq)]
pub struct BfnFrame {
    /// The generators that stepped, with their steps, in the order they were recorded.
    pub steps: Vec<(Entity, u32)>,
    /// The GPU milliseconds the steps take at each job's measured time per step (steps of a job not measured
    /// yet count nothing).
    pub gpu_ms: f32,
    /// Whether the frame holds one step over the budget: the first generator's single step did not fit.
    pub allowance: bool,
    /// The caps in force: [`BfnSettings::frame_budget_ms`] (`None` also where the device cannot measure it) and
    /// [`BfnSettings::max_steps_per_frame`].
    pub budget_ms: Option<f32>,
    /// See `budget_ms`.
    pub max_steps: Option<u32>,
}

impl BfnFrame {
    /// The steps of every generator together.
    pub fn total_steps(&self) -> u32 {
        self.steps.iter().map(|(_, steps)| steps).sum()
    }
}

/// What the plugin holds on the GPU, counted where it was made ([`crate::gpu::memory`]): the sampling jobs with
/// their timers, watches and previews, and the uploaded models. Freed within a few frames of a generator being
/// despawned, finishing, or changing model. (The preview images are Bevy's: they go with their handles.)
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BfnGpuMemory {
    /// All of it.
    pub total: GpuMemory,
    /// Jobs held (one per generator with a run under way).
    pub jobs: usize,
    /// Models uploaded (one per model and canvas that a generator uses).
    pub models: usize,
}

/// The last frame recorded and why the settings were refused, for the panel.
#[derive(Resource, Clone, Debug, Default)]
pub struct BfnFrameStats {
    /// The last frame the render world recorded.
    pub last: BfnFrame,
    /// Why the last change of [`BfnSettings`] was refused (the previous settings stay in force).
    pub settings_error: Option<String>,
}

/// The caps in force: the last [`BfnSettings`] that passed their check.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub(crate) struct ActiveSettings(pub BfnSettings);

/// The plugin's Bevy diagnostics.
pub struct BfnDiagnostics;

impl BfnDiagnostics {
    /// GPU buffers the plugin holds.
    pub const GPU_BUFFERS: DiagnosticPath = DiagnosticPath::const_new("bevy_bfn/gpu_buffers");
    /// Their bytes.
    pub const GPU_BYTES: DiagnosticPath = DiagnosticPath::const_new("bevy_bfn/gpu_bytes");
    /// The GPU milliseconds of the frame's steps.
    pub const FRAME_GPU_MS: DiagnosticPath = DiagnosticPath::const_new("bevy_bfn/frame_gpu_ms");
    /// Steps recorded in the frame, all generators together.
    pub const FRAME_STEPS: DiagnosticPath = DiagnosticPath::const_new("bevy_bfn/frame_steps");
}

/// Adds the resources, message and diagnostics.
pub(crate) fn build(app: &mut App) {
    app.init_resource::<BfnSettings>()
        .init_resource::<ActiveSettings>()
        .init_resource::<BfnFrameStats>()
        .init_resource::<BfnGpuMemory>()
        .register_type::<BfnSettings>()
        .register_type::<BfnPriority>()
        .add_message::<BfnFrame>();
    for path in [
        BfnDiagnostics::GPU_BUFFERS,
        BfnDiagnostics::GPU_BYTES,
        BfnDiagnostics::FRAME_GPU_MS,
        BfnDiagnostics::FRAME_STEPS,
    ] {
        app.register_diagnostic(Diagnostic::new(path));
    }
}

/// Puts a changed [`BfnSettings`] in force, or refuses it with an error naming the setting.
pub(crate) fn apply_settings(
    settings: Res<BfnSettings>,
    mut active: ResMut<ActiveSettings>,
    mut stats: ResMut<BfnFrameStats>,
) {
    if !settings.is_changed() {
        return;
    }
    match settings.check() {
        Ok(()) => {
            active.0 = *settings;
            stats.settings_error = None;
        }
        Err(error) => {
            if stats.settings_error.as_ref() != Some(&error) {
                error!("{error}; the previous settings stay in force");
            }
            stats.settings_error = Some(error);
        }
    }
}

/// Takes the render world's frames: sends a [`BfnFrame`] for each, updates [`BfnFrameStats`], [`BfnGpuMemory`]
/// and the diagnostics.
pub(crate) fn collect_frames(
    reports: Res<Reports>,
    mut stats: ResMut<BfnFrameStats>,
    mut held: ResMut<BfnGpuMemory>,
    mut frames: MessageWriter<BfnFrame>,
    mut diagnostics: Diagnostics,
) {
    let (recorded, memory) = reports.drain_frames();
    if let Some(memory) = memory {
        held.set_if_neq(memory);
        diagnostics.add_measurement(&BfnDiagnostics::GPU_BUFFERS, || memory.total.buffers as f64);
        diagnostics.add_measurement(&BfnDiagnostics::GPU_BYTES, || memory.total.bytes as f64);
    }
    for frame in recorded {
        diagnostics.add_measurement(&BfnDiagnostics::FRAME_GPU_MS, || f64::from(frame.gpu_ms));
        diagnostics.add_measurement(&BfnDiagnostics::FRAME_STEPS, || {
            f64::from(frame.total_steps())
        });
        stats.last = frame.clone();
        frames.write(frame);
    }
}
