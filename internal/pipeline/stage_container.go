package pipeline

import (
	"context"
	"os"

	"github.com/lukium/kms-verify-action/internal/build"
	"github.com/lukium/kms-verify-action/internal/container"
	"github.com/lukium/kms-verify-action/internal/verdict"
)

// runBuild runs the user's build for one checkout (o.Dir): in a sibling
// container from cfg.BuildImage when it is set, else in the verifier's own
// image (build.Run). Every build of a run, the rebuilds of earlier releases
// included, goes through here.
func (r *run) runBuild(ctx context.Context, o build.Options) (build.Result, error) {
	if r.engine == nil {
		return build.Run(ctx, o)
	}
	return r.runInContainer(ctx, o)
}

// runInContainer runs the build in a container (package container): the
// checkout mounted at container.Workdir and nothing else, the container's
// environment from container.InsideEnv, as o.User's uid (or the verifier's
// own, never root). build.Run runs the engine's client under the same
// deadline and log; whatever happens, the container is then removed
// (rm -f), and a container that cannot be removed is "build-escaped": its
// processes may still write to the checkout, so nothing is read from it.
func (r *run) runInContainer(ctx context.Context, o build.Options) (build.Result, error) {
	img, err := container.ParseImage(r.cfg.BuildImage) // checked by Preflight
	if err != nil {
		return build.Result{}, err
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if o.User != nil {
		uid, gid = o.User.UID, o.User.GID
	}
	if uid == 0 || gid == 0 {
		return build.Result{}, verdict.Usagef("invalid-build-user", "the build in a container must not run as root; run the verifier as root without --build-as-root (each build then gets a fresh uid) or as an unprivileged user")
	}
	host, err := container.HostPath(o.Dir, r.d.HostMounts)
	if err != nil {
		return build.Result{}, verdict.Inconclusivef("container-mount", "the checkout cannot be mounted into the build container: %v", err)
	}
	engineHome, err := container.EngineHome(r.work)
	if err != nil {
		return build.Result{}, verdict.Inconclusivef("workspace", "%v", err)
	}
	name := container.NewName()
	args, err := container.RunArgs(container.Spec{
		Image: img, Name: name, HostDir: host, UID: uid, GID: gid,
		Env:     container.InsideEnv(o.Env),
		Command: o.Command,
		// Rootless podman maps the verifier's uid to itself only when asked.
		KeepID: r.engine.Kind == "podman" && os.Geteuid() != 0,
	})
	if err != nil {
		return build.Result{}, verdict.Inconclusivef("container-mount", "%v", err)
	}
	env := container.EngineEnv(*r.engine, r.lookup, engineHome)
	r.d.Log.Logf("Building in container %s from %s (%s, uid %d)", name, img, r.engine.Kind, uid)
	o.Argv = append([]string{r.engine.Path}, args...)
	o.Env = env
	// The engine's client runs as the verifier (it needs the engine's
	// socket); the build runs as uid inside the container.
	o.User = nil
	res, err := build.Run(ctx, o)
	if rmErr := container.Remove(*r.engine, env, name); rmErr != nil {
		return res, verdict.Inconclusivef("build-escaped", "the build's container %s could not be removed, so its processes may still run (%v); its output is not read", name, rmErr)
	}
	return res, err
}
