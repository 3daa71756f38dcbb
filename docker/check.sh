#!/usr/bin/env bash
# Build an unet1d image and use it, so the Dockerfiles are known to work, not only to lint.
#
#   docker/check.sh           the CPU image (docker/Dockerfile): build it, then, as the image's
#                             uid 1000 with a host folder at /app/runs: unet1d --help, a tiny
#                             train, eval of that run, and sweep local of a two-point sweep; then
#                             check on the host what the image wrote and what the image holds.
#   docker/check.sh --cuda    the CUDA image (docker/Dockerfile.cuda): build it, then import torch
#                             and unet1d and run unet1d --help inside (no GPU needed).
#
# The engine is docker where a daemon answers, else buildah (chroot isolation, as root). The base
# is the Dockerfile's default image where a registry serves it, else a Debian bookworm made here
# with debootstrap (python3, python3-venv, ca-certificates), cached. pip inside the build uses the
# sources pip is configured with on this host (read at run time, never written to a file);
# torch comes from PyTorch's index where it answers, else from those sources.
#
# Environment: ENGINE=docker|buildah, BASE_IMAGE (skip the registry/debootstrap choice),
# TORCH_INDEX, TORCH_VERSION, UNET1D_IMAGE_CACHE (default ~/.cache/unet1d-images: the Debian base
# tarball; pip's downloads are kept by the Dockerfiles' cache mounts), DEBIAN_MIRROR, KEEP=1
# (keep the runs folder). A failure ends with "check failed at step: <step>".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${UNET1D_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/unet1d-images}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-python3}
LOCAL_BASE=localhost/unet1d-base:bookworm
PYTORCH_INDEX=https://download.pytorch.org/whl
# The Debian base's packages; a change here makes a new base (the tarball's name carries a hash).
BASE_PACKAGES=python3,python3-venv,ca-certificates

FLAVOUR=cpu
case "${1:-}" in
    "") ;;
    --cuda) FLAVOUR=cuda ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--cuda]" >&2; exit 2 ;;
esac
if [[ $FLAVOUR == cpu ]]; then DOCKERFILE=docker/Dockerfile; else DOCKERFILE=docker/Dockerfile.cuda; fi
IMAGE=localhost/unet1d:$FLAVOUR-check

STEP=setup
CONTAINERS=()
WORK=$(mktemp -d)
finish() {
    local status=$?
    for ctr in "${CONTAINERS[@]}"; do
        if [[ $ENGINE == buildah ]]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    done
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
    if ((status != 0)); then echo "docker/check.sh: check failed at step: $STEP" >&2; fi
}
ENGINE=${ENGINE:-}
trap finish EXIT
# A URL's user:password (a private index's token in PIP_INDEX_URL) never reaches the log.
say() { printf '\n== [%ss] %s\n' "$SECONDS" "$(sed -E 's#(://)[^/[:space:]]*@#\1***@#g' <<<"$*")" >&2; }
fail() {
    echo "docker/check.sh: $STEP: $*" >&2
    exit 1
}
# buildah re-executes itself from a sealed in-memory copy before it runs anything; on some kernels
# sealing fails now and then (EBUSY). The command never started then, so it is safe to run again.
ENGINE_FLAKE='sealing memfd copy|Error during reexec'
retry_engine() { # run "$@" (its stderr shown once it ends); again, up to twice, when the engine itself failed to start
    local attempt status
    for attempt in 1 2 3; do
        status=0
        "$@" 2>"$WORK/stderr" || status=$?
        cat "$WORK/stderr" >&2
        if ((status == 0)) || ! grep -qE "$ENGINE_FLAKE" "$WORK/stderr" || ((attempt == 3)); then return "$status"; fi
        say "the engine failed before the command started ($(grep -m1 -oE "($ENGINE_FLAKE).*" "$WORK/stderr")); again"
    done
}

# ---- engine ---------------------------------------------------------------------------------
if [[ -z $ENGINE ]]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        ENGINE=docker
    elif command -v buildah >/dev/null; then
        ENGINE=buildah
    else
        fail "no image engine: start a Docker daemon, or install buildah (apt-get install buildah debootstrap)"
    fi
fi
if [[ $ENGINE == buildah && $(id -u) != 0 ]]; then fail "buildah with chroot isolation needs root here"; fi
say "engine: $ENGINE; image: $IMAGE from $DOCKERFILE"

# ---- base -------------------------------------------------------------------------------------
default_base() { sed -n 's/^ARG BASE_IMAGE=//p' "$ROOT/$DOCKERFILE"; }

pulls() { # whether the engine can fetch image $1 from its registry (a minute at most)
    if [[ $ENGINE == docker ]]; then
        docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1
    else
        buildah inspect --type image "$1" >/dev/null 2>&1 || timeout 60 buildah pull -q "$1" >/dev/null 2>&1
    fi
}

has_image() {
    if [[ $ENGINE == docker ]]; then docker image inspect "$1" >/dev/null 2>&1; else buildah inspect --type image "$1" >/dev/null 2>&1; fi
}

local_base() { # a Debian bookworm image with Python, from debootstrap, cached as a tarball and an image
    local key tarball rootfs ctr mnt
    key=$(printf '%s %s' "$BASE_PACKAGES" "$MIRROR" | sha256sum | cut -c1-12)
    tarball=$CACHE/bookworm-$key.tar
    if has_image "$LOCAL_BASE" && [[ -f $tarball ]]; then return; fi
    mkdir -p "$CACHE"
    if [[ ! -f $tarball ]]; then
        command -v debootstrap >/dev/null || fail "no registry answers and debootstrap is missing (apt-get install debootstrap)"
        say "base: debootstrap bookworm from $MIRROR (once; cached in $tarball)"
        rootfs=$WORK/rootfs
        debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
            { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    fi
    say "base: $LOCAL_BASE from $tarball"
    if [[ $ENGINE == docker ]]; then
        docker import "$tarball" "$LOCAL_BASE" >/dev/null
    else
        ctr=$(buildah from scratch)
        CONTAINERS+=("$ctr")
        mnt=$(buildah mount "$ctr")
        tar -C "$mnt" --numeric-owner -xf "$tarball"
        buildah umount "$ctr" >/dev/null
        buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
        buildah commit -q --rm "$ctr" "$LOCAL_BASE" >/dev/null
        CONTAINERS=()
    fi
}

STEP=base
if [[ -n ${BASE_IMAGE:-} ]]; then
    BASE=$BASE_IMAGE
elif pulls "$(default_base)"; then
    BASE=$(default_base)
else
    say "base: $(default_base) cannot be fetched from its registry; using a Debian bookworm made here"
    local_base
    BASE=$LOCAL_BASE
fi
say "base: $BASE"

# ---- pip's sources: the host's pip configuration, as build arguments ------------------------
pip_setting() { # pip's value for option $1 here: its PIP_ variable, else [install], else [global]
    local var listing
    var=PIP_$(tr 'a-z-' 'A-Z_' <<<"$1")
    if [[ -n ${!var:-} ]]; then
        echo "${!var}"
        return
    fi
    listing=$("$PYTHON" -m pip config list 2>/dev/null || true)
    for section in install global; do
        if grep -q "^$section\.$1=" <<<"$listing"; then
            sed -n "s/^$section\.$1='\(.*\)'\$/\1/p" <<<"$listing" | head -1
            return
        fi
    done
}

INDEX=$(pip_setting index-url)
INDEX=${INDEX:-https://pypi.org/simple}
EXTRA=$(pip_setting extra-index-url)
LINKS=$(pip_setting find-links)
ARGS=(--build-arg "BASE_IMAGE=$BASE" --build-arg "PIP_INDEX_URL=$INDEX")
visible() { # whether the build can see pip source $1: a URL, or a path here that buildah mounts
    local folder=${1#file://}
    if [[ $folder != /* ]] || [[ -e $folder && $ENGINE == buildah ]]; then return 0; fi
    echo "note: pip source $1 is left out of the build: it is not a path that $ENGINE can mount" >&2
    return 1
}
read -ra sources <<<"$EXTRA"
extra=()
for source in "${sources[@]}"; do if visible "$source"; then extra+=("$source"); fi; done
read -ra sources <<<"$LINKS"
links=()
for source in "${sources[@]}"; do if visible "$source"; then links+=("$source"); fi; done
MOUNTS=() # folders of this disk, read-only at the same path; an index's files lie beside its simple/
for source in "${extra[@]}"; do
    if [[ $source == file:///* ]]; then MOUNTS+=(--volume "$(dirname "${source#file://}"):$(dirname "${source#file://}"):ro"); fi
done
for source in "${links[@]}"; do
    if [[ ${source#file://} == /* ]]; then MOUNTS+=(--volume "${source#file://}:${source#file://}:ro"); fi
done
ARGS+=(--build-arg "PIP_EXTRA_INDEX_URL=${extra[*]}" --build-arg "PIP_FIND_LINKS=${links[*]}")
# The certificates pip trusts here (a proxy's CA among them, on some networks).
CERT=$(pip_setting cert)
if [[ -n $CERT && -f $CERT ]] && visible "$CERT"; then
    MOUNTS+=(--volume "$CERT:$CERT:ro")
    ARGS+=(--build-arg "PIP_CERT=$CERT")
fi

# torch: PyTorch's index (the Dockerfile's default) where it answers; else pip's index with the
# version pinned to the build this image needs: +cpu for the CPU image, so a CUDA build is refused.
if [[ -n ${TORCH_INDEX:-} ]]; then
    ARGS+=(--build-arg "TORCH_INDEX=$TORCH_INDEX")
elif ! curl -fsS -m 15 -o /dev/null "$PYTORCH_INDEX/cpu/torch/" 2>/dev/null; then
    say "torch: PyTorch's index does not answer; torch comes from pip's sources ($INDEX ${extra[*]} ${links[*]})"
    ARGS+=(--build-arg "TORCH_INDEX=$INDEX")
    if [[ $FLAVOUR == cpu ]]; then
        TORCH_VERSION=${TORCH_VERSION:-$(sed -n 's/^ARG TORCH_VERSION=//p' "$ROOT/$DOCKERFILE")+cpu}
    else
        TORCH_VERSION=${TORCH_VERSION:-2.14.1} # the CUDA build of torch on the configured index here
    fi
fi
if [[ -n ${TORCH_VERSION:-} ]]; then ARGS+=(--build-arg "TORCH_VERSION=$TORCH_VERSION"); fi

# ---- build ------------------------------------------------------------------------------------
STEP=build
say "build: $ENGINE ${ARGS[*]} ${MOUNTS[*]}"
start=$SECONDS
if [[ $ENGINE == docker ]]; then
    docker build -f "$ROOT/$DOCKERFILE" -t "$IMAGE" "${ARGS[@]}" "$ROOT"
else
    retry_engine buildah bud --isolation chroot --layers --pull-never -f "$ROOT/$DOCKERFILE" -t "$IMAGE" \
        "${ARGS[@]}" "${MOUNTS[@]}" "$ROOT" 2>&1 | tee "$WORK/build.log"
    # --layers keeps each step as an image, the cache of the next build. Drop the previous build's
    # steps that this one did not reuse (a 1.5 GB copy of the venv per code change, otherwise).
    grep -oE '^--> (Using cache )?[0-9a-f]{11,}' "$WORK/build.log" | awk '{print substr($NF, 1, 11)}' |
        sort -u >"$WORK/steps"
    if [[ -f $CACHE/steps-$FLAVOUR ]]; then
        comm -23 "$CACHE/steps-$FLAVOUR" "$WORK/steps" | while read -r id; do buildah rmi "$id" >/dev/null 2>&1 || true; done
    fi
    mkdir -p "$CACHE" && cp "$WORK/steps" "$CACHE/steps-$FLAVOUR"
fi
say "build: $((SECONDS - start)) s"

# ---- run inside the image ---------------------------------------------------------------------
RUNS=$WORK/runs # the host folder at /app/runs; owned by uid 1000, as the compose volume must be
mkdir -p "$RUNS"
chown 1000:1000 "$RUNS" 2>/dev/null || chmod 0777 "$RUNS"
if [[ $ENGINE == buildah ]]; then
    CTR=$(buildah from --pull-never "$IMAGE")
    CONTAINERS+=("$CTR")
fi

in_image() { # run a command in the image as its own user, with $RUNS at /app/runs
    STEP="in the image: $*"
    say "$STEP"
    if [[ $ENGINE == docker ]]; then
        docker run --rm -v "$RUNS:/app/runs" -e OMP_NUM_THREADS=1 --entrypoint "" "$IMAGE" "$@"
    else
        retry_engine buildah run --isolation chroot --volume "$RUNS:/app/runs" --env OMP_NUM_THREADS=1 "$CTR" -- "$@"
    fi
}

in_image id -u >"$WORK/uid"
user=$(tail -1 "$WORK/uid")
[[ $user == 1000 ]] || fail "the image runs as uid $user, not 1000"
in_image unet1d --help >/dev/null
# The package in the image is this tree's unet1d, file for file (not a stand-in or a stale build).
DIGEST='import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__import__("unet1d").__file__).parent
files = sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix())
print(hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes() for p in files)).hexdigest())'
in_image python -c "$DIGEST" >"$WORK/digest"
[[ $(tail -1 "$WORK/digest") == $("$PYTHON" -c "$DIGEST" "$ROOT/unet1d") ]] ||
    fail "the unet1d package in the image differs from $ROOT/unet1d"
if [[ $FLAVOUR == cuda ]]; then
    in_image python -c "import torch, unet1d; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
else
    in_image python -c "import torch; assert torch.version.cuda is None, torch.__version__; print('torch', torch.__version__)"
    TINY=(--base_channels 8 --channel_mults "1,2" --batch_size 32 --builtin_samples 512 --num_timesteps 100
        --sample_steps 20 --warmup_steps 5 --log_every 5 --eval_every 10 --checkpoint_every 10
        --progress plain --quality_every 0 --final_eval_samples 0 --wandb_mode disabled)
    in_image unet1d train "${TINY[@]}" --max_steps 20 --mid_structure attention --mid_num_heads 2 \
        --output_dir runs/tiny
    in_image unet1d eval runs/tiny --num-samples 200 --device cpu
    cat >"$RUNS/two-points.yaml" <<'EOF'
name: two-points
program: cli.py
method: grid
metric: {name: val/loss, goal: minimize}
parameters:
  mid_structure: {values: [conv, attention]}
  mid_num_heads: {value: 2}
command: ["${env}", "${interpreter}", "${program}", "train", "${args}"]
EOF
    in_image unet1d sweep local runs/two-points.yaml --output-root runs/sweeps "${TINY[@]}" --max_steps 10

    # ---- on the host: what the image wrote --------------------------------------------------------
    STEP="host: run folders"
    say "$STEP"
    mapfile -t folders < <(find "$RUNS/sweeps/two-points" -mindepth 1 -maxdepth 1 -type d ! -name report)
    folders+=("$RUNS/tiny")
    ((${#folders[@]} == 3)) || fail "expected runs/tiny and two sweep runs, found: ${folders[*]}"
    for folder in "${folders[@]}"; do
        [[ -f $folder/summary.json ]] || fail "no summary.json in $folder"
        find "$folder/checkpoints" -name model.safetensors | grep -q . || fail "no checkpoint in $folder"
    done
    [[ -f $RUNS/tiny/eval/step-20.json ]] || fail "unet1d eval wrote no runs/tiny/eval/step-20.json"
    [[ -f $RUNS/sweeps/two-points/compare.json ]] || fail "sweep local wrote no compare.json"
    STEP="host: file owners"
    others=$(find "$RUNS" -mindepth 1 ! -uid 1000 ! -name two-points.yaml | head -5)
    [[ -z $others ]] || fail "files not owned by uid 1000: $others"
    echo "run folders: ${folders[*]#"$RUNS"/}; $(find "$RUNS" -mindepth 1 | wc -l) files, all uid 1000"
fi

# ---- what the image holds ---------------------------------------------------------------------
STEP="image contents"
say "$STEP"
LIST=$WORK/files.txt
if [[ $ENGINE == docker ]]; then
    ctr=$(docker create "$IMAGE")
    docker export "$ctr" | tar -t | sed 's|^|/|; s|/$||' >"$LIST"
    docker rm "$ctr" >/dev/null
    env=$(docker image inspect -f '{{json .Config.Env}}' "$IMAGE")
    bytes=$(docker image inspect -f '{{.Size}}' "$IMAGE")
else
    mnt=$(buildah mount "$CTR")
    (cd "$mnt" && find . -xdev | sed 's|^\.||') >"$LIST"
    bytes=$(du -sbx "$mnt" | cut -f1)
    venv=$(du -sbx "$mnt/opt/venv" | cut -f1)
    buildah umount "$CTR" >/dev/null
    env=$(buildah inspect --type image -f '{{.OCIv1.Config.Env}}' "$IMAGE")
fi
secrets=$(grep -E '(^|/)(\.netrc|_netrc|\.env|\.pypirc|\.git-credentials)$|/\.config/wandb(/|$)' "$LIST" || true)
[[ -z $secrets ]] || fail "credentials in the image: $secrets"
! grep -qiE 'API_KEY|TOKEN|SECRET|PASSWORD' <<<"$env" || fail "a credential in the image's environment: $env"
pipcache=$(grep -E '/\.cache/pip(/|$)' "$LIST" || true)
[[ -z $pipcache ]] || fail "pip's cache is in the image: $(head -3 <<<"$pipcache")"
compilers=$(grep -E '^/usr/(local/)?bin/((x86_64|aarch64)-linux-gnu-)?(gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(-[0-9.]+)?$' "$LIST" || true)
[[ -z $compilers ]] || fail "compilers in the final stage: $compilers"
echo "$(wc -l <"$LIST") files: no .netrc/.env/wandb settings, no pip cache, no compilers"

STEP=size
mb() { echo "$(($1 / 1000000)) MB"; }
echo "image $IMAGE on $BASE: $(mb "$bytes")${venv:+ (the virtual environment /opt/venv: $(mb "$venv"))}"
STEP=finished
say "docker/check.sh${1:+ $1}: all checks passed"
