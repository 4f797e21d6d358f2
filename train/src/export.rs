//! Export of parameters as f16 safetensors that [`powerpost_core::unet::load_params`]
//! accepts: one F16 tensor per parameter-table entry, in table order, and the metadata
//! [`ARCHITECTURE_KEY`] = `config.describe()` plus any extra keys (normalisation
//! constants).

use powerpost_core::unet::params::for_each_tensor;
use powerpost_core::unet::{UNetConfig, ARCHITECTURE_KEY};

/// Metadata key: the velocity normalisation centre (km/s).
pub const VELOCITY_CENTER_KEY: &str = "powerpost.velocity_center";
/// Metadata key: the velocity normalisation half-range (km/s).
pub const VELOCITY_HALF_RANGE_KEY: &str = "powerpost.velocity_half_range";
/// Metadata key: the RTM normalisation factor.
pub const RTM_SCALE_KEY: &str = "powerpost.rtm_scale";
/// Metadata key: the steps of the training run that wrote the file (a fine-tuning run counts
/// its own).
pub const TRAIN_STEPS_KEY: &str = "powerpost.train_steps";
/// Metadata key (networks that take the background model): the Gaussian σ, in grid
/// points, of the background models the network was trained with.
pub const BACKGROUND_SIGMA_KEY: &str = "powerpost.background_smooth_sigma";
/// Metadata key (networks that take the background model, trained on a dataset with
/// background errors): the dataset's largest relative background error.
pub const BACKGROUND_ERROR_KEY: &str = "powerpost.background_error";
/// Metadata key: the digest of the training dataset's manifest and shards.
pub const DATASET_SHA256_KEY: &str = "powerpost.dataset_sha256";

/// Serialises `params` (f32, table order) as f16 safetensors with `extra` metadata.
pub fn safetensors_f16(config: &UNetConfig, params: &[f32], extra: &[(&str, String)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut meta = serde_json::Map::new();
    meta.insert(
        ARCHITECTURE_KEY.to_string(),
        serde_json::Value::String(config.describe().to_string()),
    );
    for (k, v) in extra {
        meta.insert((*k).to_string(), serde_json::Value::String(v.clone()));
    }
    header.insert("__metadata__".to_string(), serde_json::Value::Object(meta));
    let mut data = Vec::with_capacity(params.len() * 2);
    for_each_tensor(config, |t| {
        let begin = data.len();
        for &v in &params[t.offset..t.offset + t.len] {
            data.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
        header.insert(
            t.name.to_string(),
            serde_json::json!({ "dtype": "F16", "shape": t.shape(), "data_offsets": [begin, data.len()] }),
        );
    });
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap_or_default();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    out
}
