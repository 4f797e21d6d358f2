/* Posterior samples for an RTM image with the shipped weights, from C.
 * usage: minimal weights/powerpost-edge.safetensors rtm.f32 background.f32
 * (64 x 128 raw float32 each; the background model, in km/s, is the smooth velocity
 * model the RTM image was migrated in) */
#include "powerpost.h"
#include <stdio.h>
#include <stdlib.h>

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  void *data = NULL;
  if (f && fseek(f, 0, SEEK_END) == 0) {
    *len = (size_t)ftell(f);
    rewind(f);
    data = malloc(*len);
    if (data && fread(data, 1, *len, f) != *len) data = NULL;
  }
  if (f) fclose(f);
  if (!data) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
  return data;
}

int main(int argc, char **argv) {
  enum { H = 64, W = 128, N = H * W };
  powerpost_error err;
  powerpost_weights_info info;
  powerpost_sample_request req = {0};
  static float condition[N], background[N], sample[N], velocity[N];
  size_t bytes_len, rtm_len, background_len, params_len, scratch_len, i;
  uint8_t *bytes;
  float *rtm, *background_km_s, *params, *scratch;
  uint64_t k;

  if (argc != 4) { fprintf(stderr, "usage: minimal WEIGHTS RTM_F32 BACKGROUND_F32\n"); return 2; }
  bytes = slurp(argv[1], &bytes_len);
  rtm = slurp(argv[2], &rtm_len);
  background_km_s = slurp(argv[3], &background_len);

  /* 1. Weights: which network, its normalisation, the parameters (f16 -> f32). */
  if (powerpost_weights_inspect(bytes, bytes_len, &info, &err) != POWERPOST_OK) goto fail;
  params_len = powerpost_network_params_len(info.preset);
  params = malloc(params_len * sizeof(float));
  if (powerpost_network_load_weights(info.preset, bytes, bytes_len, params, params_len, &err))
    goto fail;

  /* 2. The RTM image and the background model in network units. */
  if (powerpost_rtm_to_network(&info.normalization, rtm, rtm_len / sizeof(float), condition, N,
                               &err) ||
      powerpost_velocity_to_network(&info.normalization, background_km_s,
                                    background_len / sizeof(float), background, N, &err))
    goto fail;

  /* 3. The request: lambda = alpha = 1, DPM-Solver++(2M) with 16 steps, seed 0. */
  req.height = H;
  req.width = W;
  req.rtm_image = condition;
  req.rtm_image_len = N;
  if (info.preset == POWERPOST_NETWORK_DEFAULT_BACKGROUND ||
      info.preset == POWERPOST_NETWORK_TINY_BACKGROUND) { /* networks that take one */
    req.background = background;
    req.background_len = N;
  }
  req.lambda = 1.0f;
  req.alpha = 1.0f;
  req.sampler = powerpost_sampler_default();
  req.sampler.kind = POWERPOST_SAMPLER_DPMPP_2M;
  req.sampler.steps = 16;
  scratch_len = powerpost_sample_scratch_len(info.preset, H, W, req.sampler.kind);
  scratch = malloc(scratch_len * sizeof(float));

  /* 4. Samples 0..3; each index has its own random stream (parallelise over it freely). */
  for (k = 0; k < 4; k++) {
    float lo = 1e30f, hi = -1e30f;
    req.sample_index = k;
    if (powerpost_draw_sample(info.preset, params, params_len, &req, sample, N, scratch,
                              scratch_len, &err) ||
        powerpost_network_to_velocity(&info.normalization, sample, N, velocity, N, &err))
      goto fail;
    for (i = 0; i < N; i++) {
      if (velocity[i] < lo) lo = velocity[i];
      if (velocity[i] > hi) hi = velocity[i];
    }
    printf("sample %llu: %.3f to %.3f km/s\n", (unsigned long long)k, lo, hi);
  }
  free(scratch);
  free(params);
  free(background_km_s);
  free(rtm);
  free(bytes);
  return 0;

fail:
  fprintf(stderr, "powerpost: %s (%s)\n", err.message, powerpost_status_message(err.status));
  return 1;
}
