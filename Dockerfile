# kms-verify GitHub Action image.
#
# Stage 1 builds a trimmed, reproducible binary. It is built with cgo so that
# it can hash with the system's OpenSSL libcrypto (loaded with dlopen at run
# time; see internal/digest/backend.go), so it links the C library
# dynamically: both stages are Debian bookworm, so the runtime has the same
# glibc. Stage 2 is the runtime: Node LTS (for the user's build command) with
# git to clone the release, corepack so pnpm and yarn work, and libssl3.
#
# Base images are pinned by tag. For a release, pin them by digest as well
# (FROM image:tag@sha256:...); digests cannot be resolved offline here.
#
# There is deliberately no USER instruction: GitHub runs Docker actions as
# root so that they can write to the mounted workspace.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY *.go ./
COPY internal/ ./internal/
COPY testdata/ ./testdata/
# The exact version and commit, for `kms-verify version` and the summary's
# link to the verifier's code (the release workflow passes both).
ARG VERSION=dev
ARG COMMIT=
# -linkmode=internal: the cgo part is a dlopen of libcrypto, which Go's own
# linker handles; GNU ld's output was mapped by Linux 6.x (ext4 large
# folios) with 2 MiB pages and showed about 8 MiB more RSS for the same code.
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w -buildid= -linkmode=internal \
      -X github.com/lukium/kms-verify-action/internal/version.version=${VERSION} \
      -X github.com/lukium/kms-verify-action/internal/version.commit=${COMMIT}" \
    -o /out/kms-verify .

FROM node:24-bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && corepack enable
# Corepack downloads the package manager a project pins; never prompt for it.
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0
# The docker client only (no engine), for build-image: the build then runs in a
# sibling container through the socket GitHub mounts into container actions.
COPY --from=docker:27.5.1-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /out/kms-verify /usr/local/bin/kms-verify
ENTRYPOINT ["/usr/local/bin/kms-verify", "action"]
