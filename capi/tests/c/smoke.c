/*
 * Drives the powerpost C ABI the way a C user would, for the Rust test capi/tests/c_abi.rs,
 * which compiles this file against the static library and compares what it writes with
 * the Rust core's bits.
 *
 *   smoke sample   WEIGHTS RTM_BIN BG_BIN OUT_DIR
 *                                               a posterior sample (64x128) and a prior one
 *                                               (BG_BIN: the background model in km/s, used
 *                                               by weights conditioned on it)
 *   smoke geology  OUT_DIR                      geology model 2016 of seed 0, 64x128 at 25 m
 *   smoke wave     VELOCITY_BIN SHOTS OUT_DIR   the training-pair pipeline for that model,
 *                                               first SHOTS shots
 *   smoke errors   WEIGHTS                      error paths (asserts here; exit 0 = all met)
 *
 * *_BIN files are raw little-endian float32 arrays; outputs likewise. Any failure prints a
 * message and exits with status 1.
 */
#include "powerpost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static powerpost_error err;

/* Aborts with the error record unless `call` returns POWERPOST_OK. */
#define OK(call)                                                                      \
  do {                                                                                \
    powerpost_status status_ = (call);                                                \
    if (status_ != POWERPOST_OK) {                                                    \
      fprintf(stderr, "%s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #call, \
              (int)status_, powerpost_status_message(status_), err.message);          \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

/* Aborts with a message unless `cond` holds. */
#define REQUIRE(cond)                                                                  \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: requirement failed: %s (last error: %d %s: %s)\n",       \
              __FILE__, __LINE__, #cond, (int)err.status, err.name, err.message);      \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static void *checked_malloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

static float *floats(size_t n) { return (float *)checked_malloc(n * sizeof(float)); }

static void *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  long size;
  void *data;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  data = checked_malloc((size_t)size);
  if (fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "short read of %s\n", path);
    exit(1);
  }
  fclose(f);
  *len = (size_t)size;
  return data;
}

static float *read_floats(const char *path, size_t expected) {
  size_t len;
  float *data = (float *)read_file(path, &len);
  if (len != expected * sizeof(float)) {
    fprintf(stderr, "%s: %zu bytes, expected %zu floats\n", path, len, expected);
    exit(1);
  }
  return data;
}

static void write_floats(const char *dir, const char *name, const float *data, size_t n) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (!f || fwrite(data, sizeof(float), n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
}

/* ---- sample --------------------------------------------------------------------------- */

struct progress_count {
  size_t calls;
  size_t last_done;
  size_t total;
};

static void count_progress(void *context, size_t done, size_t total) {
  struct progress_count *p = (struct progress_count *)context;
  p->calls++;
  p->last_done = done;
  p->total = total;
}

/* The network of a weights file: preset, normalisation and parameters. */
struct network {
  powerpost_weights_info info;
  float *params;
  size_t params_len;
};

static struct network load_network(const char *weights_path) {
  struct network net;
  size_t bytes_len;
  uint8_t *bytes = (uint8_t *)read_file(weights_path, &bytes_len);
  OK(powerpost_weights_inspect(bytes, bytes_len, &net.info, &err));
  REQUIRE(net.info.preset == POWERPOST_NETWORK_DEFAULT ||
          net.info.preset == POWERPOST_NETWORK_DEFAULT_BACKGROUND);
  net.params_len = powerpost_network_params_len(net.info.preset);
  REQUIRE(net.params_len > 0);
  net.params = floats(net.params_len);
  OK(powerpost_network_load_weights(net.info.preset, bytes, bytes_len, net.params,
                                    net.params_len, &err));
  free(bytes);
  return net;
}

/* Whether `preset` is conditioned on the background model as well as the RTM image. */
static int takes_background(int32_t preset) {
  return preset == POWERPOST_NETWORK_DEFAULT_BACKGROUND ||
         preset == POWERPOST_NETWORK_TINY_BACKGROUND;
}

static int run_sample(const char *weights_path, const char *rtm_path,
                      const char *background_path, const char *out_dir) {
  const size_t height = 64, width = 128, n = 64 * 128;
  struct network net = load_network(weights_path);
  float *rtm_raw = read_floats(rtm_path, n);
  float *background_km_s = read_floats(background_path, n);
  float *condition = floats(n), *background = floats(n), *sample = floats(n),
        *velocity = floats(n);
  powerpost_sample_request request;
  struct progress_count progress = {0, 0, 0};
  size_t scratch_len;
  float *scratch;

  OK(powerpost_rtm_to_network(&net.info.normalization, rtm_raw, n, condition, n, &err));
  OK(powerpost_velocity_to_network(&net.info.normalization, background_km_s, n, background, n,
                                   &err));

  /* Posterior: lambda 1.5, alpha 1 (both branches), DPM-Solver++(2M), 2 steps. */
  memset(&request, 0, sizeof request);
  request.height = height;
  request.width = width;
  request.rtm_image = condition;
  request.rtm_image_len = n;
  if (takes_background(net.info.preset)) {
    request.background = background;
    request.background_len = n;
  }
  request.lambda = 1.5f;
  request.alpha = 1.0f;
  request.sampler = powerpost_sampler_default();
  request.sampler.kind = POWERPOST_SAMPLER_DPMPP_2M;
  request.sampler.steps = 2;
  request.seed = 7;
  request.sample_index = 3;
  request.progress = count_progress;
  request.progress_context = &progress;
  REQUIRE(powerpost_network_evaluations(&request.sampler) == 2);
  scratch_len = powerpost_sample_scratch_len(net.info.preset, height, width, request.sampler.kind);
  REQUIRE(scratch_len > 0);
  scratch = floats(scratch_len);
  OK(powerpost_draw_sample(net.info.preset, net.params, net.params_len, &request, sample, n,
                           scratch, scratch_len, &err));
  REQUIRE(err.status == POWERPOST_OK && err.message[0] == '\0');
  REQUIRE(progress.calls == 2 && progress.last_done == 2 && progress.total == 2);
  write_floats(out_dir, "posterior.bin", sample, n);
  OK(powerpost_network_to_velocity(&net.info.normalization, sample, n, velocity, n, &err));
  write_floats(out_dir, "posterior_km_s.bin", velocity, n);

  /* Power-scaled prior on a 32 x 64 grid: no RTM image, lambda 0, alpha 1.25, Euler,
   * 2 steps, no callback, no error record. */
  request.height = 32;
  request.width = 64;
  request.rtm_image = NULL;
  request.rtm_image_len = 0;
  request.background = NULL;
  request.background_len = 0;
  request.lambda = 0.0f;
  request.alpha = 1.25f;
  request.sampler.kind = POWERPOST_SAMPLER_EULER;
  request.sampler.steps = 2;
  request.seed = 11;
  request.sample_index = 0;
  request.progress = NULL;
  request.progress_context = NULL;
  free(scratch);
  scratch_len = powerpost_sample_scratch_len(net.info.preset, 32, 64, request.sampler.kind);
  scratch = floats(scratch_len);
  OK(powerpost_draw_sample(net.info.preset, net.params, net.params_len, &request, sample,
                           32 * 64, scratch, scratch_len, NULL));
  write_floats(out_dir, "prior.bin", sample, 32 * 64);

  free(scratch);
  free(net.params);
  free(rtm_raw);
  free(background_km_s);
  free(condition);
  free(background);
  free(sample);
  free(velocity);
  return 0;
}

/* ---- geology -------------------------------------------------------------------------- */

static int run_geology(const char *out_dir) {
  powerpost_geology_params params = powerpost_geology_params_default(64, 128, 25.0f);
  powerpost_geology_info info;
  size_t n = powerpost_geology_len(&params);
  float *model;
  REQUIRE(n == 64 * 128);
  model = floats(n);
  OK(powerpost_geology_model(&params, 0, 2016, model, n, &err));
  OK(powerpost_geology_inspect(&params, 0, 2016, &info, &err));
  REQUIRE(info.water_depth > 0.0f && info.min_water_depth <= info.water_depth);
  write_floats(out_dir, "geology.bin", model, n);
  free(model);
  return 0;
}

/* ---- wave ----------------------------------------------------------------------------- */

/* Training pair 2016 of seed 0 (train/src/dataset.rs): the model's shots with 10 dB
 * coloured noise (noise index 16 * 2016 + shot), migrated shot by shot in the model smoothed
 * with sigma = 10 cells (whole background wavefield stored), summed in shot order,
 * coarsened to the model grid and muted where the velocity is at most 1510 m/s. Only the
 * first `shots` shots are used. */
static int run_wave(const char *velocity_path, size_t shots, const char *out_dir) {
  const int32_t preset = POWERPOST_ACQUISITION_EDGE;
  powerpost_acquisition acq;
  size_t model_len, medium_len, shot_len, image_len, s, i;
  size_t shot_scratch_len, noise_scratch_len, rtm_scratch_len, smooth_len;
  float *velocity, *background, *smooth_scratch, *true_medium, *bg_medium, *shot;
  float *shot_scratch, *noise_scratch, *rtm_scratch, *images, *image, *coarse;

  OK(powerpost_acquisition_info(preset, &acq, &err));
  REQUIRE(acq.model_nz == 64 && acq.model_nx == 128 && acq.n_sources == 16);
  REQUIRE(shots >= 1 && shots <= acq.n_sources);
  model_len = powerpost_wave_model_len(preset);
  medium_len = powerpost_wave_medium_len(preset);
  shot_len = powerpost_wave_shot_len(preset);
  image_len = powerpost_wave_image_len(preset);
  shot_scratch_len = powerpost_wave_shot_scratch_len(preset, 2);
  noise_scratch_len = powerpost_wave_noise_scratch_len(preset);
  rtm_scratch_len = powerpost_wave_rtm_scratch_len(preset, 1);
  smooth_len = powerpost_gaussian_smooth_scratch_len(acq.model_nz, acq.model_nx, 10.0f);
  REQUIRE(model_len == acq.model_nz * acq.model_nx && shot_len == acq.nt * acq.n_receivers);
  REQUIRE(image_len == acq.nz * acq.nx && medium_len && shot_scratch_len && noise_scratch_len);
  REQUIRE(rtm_scratch_len && smooth_len);

  velocity = read_floats(velocity_path, model_len);
  for (i = 0; i < model_len; i++) velocity[i] *= 1000.0f; /* km/s -> m/s */
  background = floats(model_len);
  smooth_scratch = floats(smooth_len);
  true_medium = floats(medium_len);
  bg_medium = floats(medium_len);
  shot = floats(shot_len);
  shot_scratch = floats(shot_scratch_len);
  noise_scratch = floats(noise_scratch_len);
  rtm_scratch = floats(rtm_scratch_len);
  images = floats(shots * image_len);
  image = floats(image_len);
  coarse = floats(model_len);

  OK(powerpost_wave_prepare_medium(preset, 2, velocity, model_len, true_medium, medium_len, &err));
  OK(powerpost_gaussian_smooth(velocity, model_len, acq.model_nz, acq.model_nx, 10.0f,
                               smooth_scratch, smooth_len, background, model_len, &err));
  OK(powerpost_wave_prepare_medium(preset, 2, background, model_len, bg_medium, medium_len, &err));
  for (s = 0; s < shots; s++) {
    OK(powerpost_wave_forward_shot(preset, 2, true_medium, medium_len, s, shot, shot_len,
                                   shot_scratch, shot_scratch_len, &err));
    if (s == 0) write_floats(out_dir, "shot0_clean.bin", shot, shot_len);
    OK(powerpost_wave_add_noise(preset, shot, shot_len, 10.0f, 0, 16 * 2016 + (uint64_t)s,
                                noise_scratch, noise_scratch_len, &err));
    if (s == 0) write_floats(out_dir, "shot0.bin", shot, shot_len);
    OK(powerpost_wave_rtm_shot(preset, bg_medium, medium_len, s, shot, shot_len,
                               images + s * image_len, image_len, NULL, 0, rtm_scratch,
                               rtm_scratch_len, &err));
    if (s == 0) write_floats(out_dir, "image0.bin", images, image_len);
  }
  OK(powerpost_wave_sum_images(images, shots * image_len, image, image_len, &err));
  OK(powerpost_wave_coarsen(preset, image, image_len, coarse, model_len, &err));
  OK(powerpost_mute_water(coarse, model_len, velocity, model_len, acq.model_nz, acq.model_nx,
                          1510.0f, 0, &err));
  write_floats(out_dir, "rtm.bin", coarse, model_len);

  free(velocity);
  free(background);
  free(smooth_scratch);
  free(true_medium);
  free(bg_medium);
  free(shot);
  free(shot_scratch);
  free(noise_scratch);
  free(rtm_scratch);
  free(images);
  free(image);
  free(coarse);
  return 0;
}

/* ---- errors --------------------------------------------------------------------------- */

/* Requires that `call` returns `want` and fills `err` accordingly. */
#define EXPECT(call, want)                                                                  \
  do {                                                                                      \
    powerpost_status got_;                                                                  \
    memset(&err, 0x5a, sizeof err);                                                         \
    got_ = (call);                                                                          \
    if (got_ != (want) || err.status != (want) || err.message[0] == '\0' ||                 \
        strlen(err.message) >= POWERPOST_ERROR_MESSAGE_LEN ||                               \
        strlen(err.name) >= POWERPOST_ERROR_NAME_LEN) {                                     \
      fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s); record: %d `%.64s` %.256s\n", \
              __FILE__, __LINE__, #call, (int)got_, (int)(want), #want, (int)err.status,    \
              err.name, err.message);                                                       \
      exit(1);                                                                              \
    }                                                                                       \
    printf("%-28s %-18s %s\n", #want, err.name, err.message);                               \
  } while (0)

static int run_errors(const char *weights_path) {
  const size_t height = 64, width = 128, n = 64 * 128;
  struct network net = load_network(weights_path);
  powerpost_sample_request request;
  powerpost_weights_info info;
  powerpost_geology_params geo = powerpost_geology_params_default(64, 128, 25.0f);
  powerpost_normalization norm = powerpost_normalization_default();
  size_t scratch_len, bytes_len, i, medium_len;
  float *scratch, *sample, *condition, *background, *medium, *velocity;
  uint8_t *bytes = (uint8_t *)read_file(weights_path, &bytes_len);
  uint8_t garbage[64];
  int32_t code;

  REQUIRE(powerpost_abi_version() == POWERPOST_ABI_VERSION);
  REQUIRE(strlen(powerpost_version()) > 0);
  for (code = POWERPOST_OK; code <= POWERPOST_DEVICE; code++) {
    const char *m = powerpost_status_message(code);
    REQUIRE(m != NULL && strlen(m) > 0);
  }
  REQUIRE(strcmp(powerpost_status_message(1000), "unknown status code") == 0);

  memset(&request, 0, sizeof request);
  request.height = height;
  request.width = width;
  request.lambda = 1.0f;
  request.alpha = 1.0f;
  request.sampler = powerpost_sampler_default();
  request.sampler.kind = POWERPOST_SAMPLER_EULER;
  request.sampler.steps = 1;
  scratch_len = powerpost_sample_scratch_len(net.info.preset, height, width,
                                             request.sampler.kind);
  scratch = floats(scratch_len);
  sample = floats(n);
  condition = floats(n);
  background = floats(n);
  for (i = 0; i < n; i++) condition[i] = background[i] = 0.0f;
  request.rtm_image = condition;
  request.rtm_image_len = n;
  if (takes_background(net.info.preset)) {
    request.background = background;
    request.background_len = n;
  }

#define DRAW(req, out, out_len, scr, scr_len)                                          \
  powerpost_draw_sample(net.info.preset, net.params, net.params_len, (req), \
                        (out), (out_len), (scr), (scr_len), &err)

  /* NULL pointers. */
  EXPECT(DRAW(NULL, sample, n, scratch, scratch_len), POWERPOST_NULL_POINTER);
  REQUIRE(strcmp(err.name, "request") == 0);
  EXPECT(DRAW(&request, NULL, n, scratch, scratch_len), POWERPOST_NULL_POINTER);
  REQUIRE(strcmp(err.name, "sample") == 0);
  EXPECT(DRAW(&request, sample, n, NULL, scratch_len), POWERPOST_NULL_POINTER);
  REQUIRE(strcmp(err.name, "scratch") == 0);
  EXPECT(powerpost_draw_sample(net.info.preset, NULL, net.params_len, &request, sample,
                               n, scratch, scratch_len, &err),
         POWERPOST_NULL_POINTER);
  REQUIRE(strcmp(err.name, "params") == 0);
  EXPECT(powerpost_geology_model(NULL, 0, 0, sample, n, &err), POWERPOST_NULL_POINTER);
  EXPECT(powerpost_weights_inspect(bytes, bytes_len, NULL, &err), POWERPOST_NULL_POINTER);
  EXPECT(powerpost_velocity_to_network(NULL, condition, n, sample, n, &err),
         POWERPOST_NULL_POINTER);

  /* Short buffers: the record says which, what was needed and what was given. */
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len - 1), POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "scratch") == 0);
  REQUIRE(err.expected == scratch_len && err.actual == scratch_len - 1);
  EXPECT(DRAW(&request, sample, n - 1, scratch, scratch_len), POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "sample") == 0 && err.expected == n && err.actual == n - 1);
  request.rtm_image_len = n - 1;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "request.rtm_image") == 0 && err.expected == n && err.actual == n - 1);
  request.rtm_image_len = n;
  EXPECT(powerpost_network_load_weights(net.info.preset, bytes, bytes_len, scratch,
                                        net.params_len - 1, &err),
         POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "params") == 0 && err.expected == net.params_len);
  EXPECT(powerpost_geology_model(&geo, 0, 0, sample, n - 1, &err), POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "velocity") == 0 && err.expected == n && err.actual == n - 1);

  /* NaN and out-of-range values. */
  request.lambda = NAN;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "lambda") == 0);
  request.lambda = 1.0f;
  request.alpha = -1.0f;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "alpha") == 0);
  request.alpha = 1.0f;
  request.sampler.sigma_min = NAN;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "sigma_min") == 0);
  request.sampler = powerpost_sampler_default();
  request.sampler.kind = 42;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "sampler.kind") == 0);
  request.sampler.kind = POWERPOST_SAMPLER_EULER;
  request.sampler.steps = 1;
  request.rtm_image = NULL; /* lambda 1 without an RTM image */
  request.background = NULL;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "lambda") == 0);
  request.rtm_image = condition;
  if (takes_background(net.info.preset)) {
    /* An RTM image without the background model these weights need. */
    EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
    REQUIRE(strcmp(err.name, "request.background") == 0);
    request.background = background;
  }
  condition[17] = INFINITY;
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "condition") == 0);
  condition[17] = 0.0f;
  request.width = 126; /* not a multiple of 4 */
  EXPECT(DRAW(&request, sample, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  request.width = width;
  EXPECT(powerpost_draw_sample(7, net.params, net.params_len, &request, sample, n, scratch,
                               scratch_len, &err),
         POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "preset") == 0);
  /* The sample buffer inside the scratch buffer. */
  EXPECT(DRAW(&request, scratch + 8, n, scratch, scratch_len), POWERPOST_INVALID_ARGUMENT);
  /* A misaligned float pointer. */
  EXPECT(DRAW(&request, (float *)((char *)sample + 1), n - 1, scratch, scratch_len),
         POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "sample") == 0);
  geo.dx = NAN;
  EXPECT(powerpost_geology_model(&geo, 0, 0, sample, n, &err), POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "dx") == 0);
  REQUIRE(powerpost_geology_len(&geo) == 0);
  norm.velocity_half_range_km_s = 0.0f;
  EXPECT(powerpost_velocity_to_network(&norm, condition, n, sample, n, &err),
         POWERPOST_INVALID_ARGUMENT);
  /* Lengths are 0 for invalid arguments. */
  REQUIRE(powerpost_sample_scratch_len(net.info.preset, 6, 8, 0) == 0);
  REQUIRE(powerpost_network_params_len(99) == 0);
  REQUIRE(powerpost_wave_shot_scratch_len(POWERPOST_ACQUISITION_EDGE, 3) == 0);

  /* Wrong weights bytes. */
  for (i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37u + 1u);
  EXPECT(powerpost_weights_inspect(garbage, sizeof garbage, &info, &err), POWERPOST_WEIGHTS);
  EXPECT(powerpost_network_load_weights(net.info.preset, garbage, sizeof garbage,
                                        scratch, net.params_len, &err),
         POWERPOST_WEIGHTS);
  EXPECT(powerpost_network_load_weights(net.info.preset, bytes, 100, scratch,
                                        net.params_len, &err),
         POWERPOST_WEIGHTS);
  /* The shipped weights loaded as the tiny network. */
  EXPECT(powerpost_network_load_weights(POWERPOST_NETWORK_TINY, bytes, bytes_len, scratch,
                                        powerpost_network_params_len(POWERPOST_NETWORK_TINY),
                                        &err),
         POWERPOST_ARCHITECTURE_MISMATCH);

  /* Physics: a velocity model in km/s where m/s is expected is too dispersive. */
  medium_len = powerpost_wave_medium_len(POWERPOST_ACQUISITION_EDGE);
  medium = floats(medium_len);
  velocity = floats(n);
  for (i = 0; i < n; i++) velocity[i] = 2.5f;
  EXPECT(powerpost_wave_prepare_medium(POWERPOST_ACQUISITION_EDGE, 2, velocity, n, medium,
                                       medium_len, &err),
         POWERPOST_TOO_DISPERSIVE);
  REQUIRE(err.actual < err.expected);
  /* ... and one of 25 km/s is unstable for the preset's time step. */
  for (i = 0; i < n; i++) velocity[i] = 25000.0f;
  EXPECT(powerpost_wave_prepare_medium(POWERPOST_ACQUISITION_EDGE, 2, velocity, n, medium,
                                       medium_len, &err),
         POWERPOST_UNSTABLE_TIME_STEP);
  REQUIRE(err.actual > err.expected);
  EXPECT(powerpost_wave_prepare_medium(POWERPOST_ACQUISITION_EDGE, 2, velocity, n - 1, medium,
                                       medium_len, &err),
         POWERPOST_BUFFER_LENGTH);
  REQUIRE(strcmp(err.name, "velocity_m_s") == 0 && err.expected == n);
  velocity[5] = NAN;
  EXPECT(powerpost_wave_prepare_medium(POWERPOST_ACQUISITION_EDGE, 2, velocity, n, medium,
                                       medium_len, &err),
         POWERPOST_INVALID_ARGUMENT);
  EXPECT(powerpost_wave_forward_shot(POWERPOST_ACQUISITION_EDGE, 2, medium, medium_len, 16,
                                     sample, n, scratch, scratch_len, &err),
         POWERPOST_INVALID_ARGUMENT);
  REQUIRE(strcmp(err.name, "source") == 0);

  /* A NULL error record is allowed: only the status comes back. */
  REQUIRE(DRAW(NULL, sample, n, scratch, scratch_len) == POWERPOST_NULL_POINTER);
  REQUIRE(powerpost_draw_sample(net.info.preset, net.params, net.params_len, NULL,
                                sample, n, scratch, scratch_len, NULL) == POWERPOST_NULL_POINTER);

  free(bytes);
  free(scratch);
  free(sample);
  free(condition);
  free(background);
  free(medium);
  free(velocity);
  free(net.params);
  printf("all error paths behaved\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "sample") == 0)
    return run_sample(argv[2], argv[3], argv[4], argv[5]);
  if (argc == 3 && strcmp(argv[1], "geology") == 0) return run_geology(argv[2]);
  if (argc == 5 && strcmp(argv[1], "wave") == 0)
    return run_wave(argv[2], (size_t)strtoul(argv[3], NULL, 10), argv[4]);
  if (argc == 3 && strcmp(argv[1], "errors") == 0) return run_errors(argv[2]);
  fprintf(stderr,
          "usage: smoke sample WEIGHTS RTM_BIN OUT_DIR | geology OUT_DIR | "
          "wave VELOCITY_BIN SHOTS OUT_DIR | errors WEIGHTS\n");
  return 2;
}
