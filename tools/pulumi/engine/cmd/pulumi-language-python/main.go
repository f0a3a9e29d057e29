// Command pulumi-language-python is a Pulumi language host for Python
// programs, written for this repository.
//
// Upstream's host lives in the module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, which the
// Go module proxy does not serve. This host implements the parts of the
// LanguageRuntime gRPC service that deployments use (Run, GetRequiredPackages,
// InstallDependencies, About, GetProgramDependencies, GetPluginInfo) on top of
// the toolchain support that the served sdk/v3 module ships
// (sdk/v3/python/toolchain: pip, poetry and uv). Programs run through
// upstream's pulumi-language-python-exec script, which tools/pulumi/build.sh
// copies from the sdk/v3 module next to this binary.
//
// Pulumi.yaml runtime options understood: toolchain (pip|poetry|uv),
// virtualenv, typechecker (mypy|pyright).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
)

// version is set with -ldflags "-X main.version=X.Y.Z" (the Pulumi release
// whose sdk/v3 module this host is built against).
var version = "0.0.0-dev"

const (
	execScriptName = "pulumi-language-python-exec"
	// Exit code the exec script uses after it has already shown the user an
	// actionable error message.
	bailExitCode = 32
)

func main() {
	var tracing, root string
	flag.StringVar(&tracing, "tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	flag.StringVar(&root, "root", "", "Project root path (unused, accepted for compatibility)")
	// Older engines pass runtime options as flags; they are read from the
	// ProgramInfo options instead, but must be accepted.
	flag.String("virtualenv", "", "Virtual environment path (compatibility flag)")
	flag.String("typechecker", "", "Type checker (compatibility flag)")
	flag.String("toolchain", "", "Toolchain (compatibility flag)")
	flag.Bool("binary", false, "compatibility flag")
	flag.Parse()

	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-python", "pulumi-language-python", tracing)

	host := &pythonHost{tracing: tracing}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
}

func (h *pythonHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// options are the Python runtime options from Pulumi.yaml.
type options struct {
	toolchain   string
	virtualenv  string
	typechecker string
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	var o options
	if info == nil || info.GetOptions() == nil {
		return o, nil
	}
	m := info.GetOptions().AsMap()
	str := func(key string) (string, error) {
		v, ok := m[key]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("runtime option %q must be a string, got %T", key, v)
		}
		return s, nil
	}
	var err error
	if o.toolchain, err = str("toolchain"); err != nil {
		return o, err
	}
	if o.virtualenv, err = str("virtualenv"); err != nil {
		return o, err
	}
	if o.typechecker, err = str("typechecker"); err != nil {
		return o, err
	}
	return o, nil
}

func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, options, error) {
	o, err := parseOptions(info)
	if err != nil {
		return nil, o, err
	}
	popts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Virtualenv: o.virtualenv,
	}
	if popts.ProgramDir == "" {
		popts.ProgramDir = popts.Root
	}
	if popts.Toolchain, err = pick(o.toolchain, "toolchain", "pip, poetry or uv",
		[]string{"", "auto", "pip", "poetry", "uv"},
		toolchain.Auto, toolchain.Auto, toolchain.Pip, toolchain.Poetry, toolchain.Uv); err != nil {
		return nil, o, err
	}
	if popts.Typechecker, err = pick(o.typechecker, "typechecker", "mypy or pyright",
		[]string{"", "mypy", "pyright"},
		toolchain.TypeCheckerNone, toolchain.TypeCheckerMypy, toolchain.TypeCheckerPyright); err != nil {
		return nil, o, err
	}
	tc, err := toolchain.ResolveToolchain(popts)
	return tc, o, err
}

// findExecScript looks for pulumi-language-python-exec next to this binary,
// then on $PATH.
func findExecScript() (string, error) {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		candidate := filepath.Join(filepath.Dir(exe), execScriptName)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
	}
	p, err := exec.LookPath(execScriptName)
	if err != nil {
		return "", fmt.Errorf("could not find %s next to the language host or on $PATH: %w", execScriptName, err)
	}
	return p, nil
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetPwd(), ProgramDirectory: req.GetPwd()}
	}
	tc, o, err := resolveToolchain(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if o.virtualenv != "" || strings.EqualFold(o.toolchain, "poetry") {
		if err := tc.ValidateVenv(ctx); err != nil {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf(
				"%v\nRun `pulumi install` to create the virtual environment and install dependencies.", err)}, nil
		}
	}

	if o.typechecker != "" {
		if resp := typecheck(ctx, tc, o.typechecker, info.GetProgramDirectory()); resp != nil {
			return resp, nil
		}
	}

	script, err := findExecScript()
	if err != nil {
		return nil, err
	}

	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()

	pwd := info.GetProgramDirectory()
	if pwd == "" {
		pwd = req.GetPwd()
	}
	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}

	args := []string{"-u", script}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", pwd)
	add("dry_run", fmt.Sprintf("%v", req.GetDryRun()))
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())
	add("root_directory", info.GetRootDirectory())
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cmd.Dir = pwd
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	if cfg := req.GetConfig(); cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("serializing config: %w", err)
		}
		env = append(env, "PULUMI_CONFIG="+string(b))
	}
	if keys := req.GetConfigSecretKeys(); keys != nil {
		b, err := json.Marshal(keys)
		if err != nil {
			return nil, fmt.Errorf("serializing config secret keys: %w", err)
		}
		env = append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(b))
	}
	cmd.Env = env

	logging.V(5).Infof("language host launching: %s %s", cmd.Path, strings.Join(cmd.Args[1:], " "))
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(
			"Problem executing program (could not run language executor): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func typecheck(ctx context.Context, tc toolchain.Toolchain, checker, dir string) *pulumirpc.RunResponse {
	var cmd *exec.Cmd
	var err error
	switch strings.ToLower(checker) {
	case "mypy":
		cmd, err = tc.ModuleCommand(ctx, "mypy", dir)
	case "pyright":
		cmd, err = tc.ModuleCommand(ctx, "pyright", dir)
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("unsupported typechecker %q", checker)}
	}
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}
	}
	cmd.Dir = dir
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("%s failed: %v", checker, err)}
	}
	return nil
}

// pluginScan is run with the program's Python; it prints the
// pulumi-plugin.json of every installed distribution that ships one.
const pluginScan = `
import json, importlib.metadata as md
out = []
seen = set()
for d in md.distributions():
    for f in (d.files or []):
        if f.name != "pulumi-plugin.json" or len(f.parts) != 2:
            continue
        p = str(d.locate_file(f))
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(p) as fh:
                out.append(json.load(fh))
        except Exception:
            pass
print(json.dumps(out))
`

type pluginJSON struct {
	Resource         bool   `json:"resource"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   []byte `json:"value"`
	} `json:"parameterization"`
}

func (h *pythonHost) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, _, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginScan)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Pulumi plugins of installed packages: %w: %s", err, stderr.String())
	}
	var plugins []pluginJSON
	if err := json.Unmarshal(out, &plugins); err != nil {
		return nil, fmt.Errorf("parsing plugin list: %w", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range plugins {
		if !p.Resource || p.Name == "" {
			continue
		}
		dep := &pulumirpc.PackageDependency{
			Kind:    "resource",
			Name:    p.Name,
			Version: p.Version,
			Server:  p.Server,
		}
		if p.Parameterization != nil {
			dep.Parameterization = &pulumirpc.PackageParameterization{
				Name:    p.Parameterization.Name,
				Version: p.Parameterization.Version,
				Value:   p.Parameterization.Value,
			}
		}
		resp.Packages = append(resp.Packages, dep)
	}
	return resp, nil
}

func (h *pythonHost) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	pkgs, err := h.GetRequiredPackages(ctx, &pulumirpc.GetRequiredPackagesRequest{Info: req.GetInfo()})
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range pkgs.GetPackages() {
		if p.GetParameterization() != nil {
			continue
		}
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: p.GetName(), Kind: p.GetKind(), Version: p.GetVersion(), Server: p.GetServer(),
		})
	}
	return resp, nil
}

// streamWriter forwards writes to the InstallDependencies response stream.
type streamWriter struct {
	stream pulumirpc.LanguageRuntime_InstallDependenciesServer
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	msg := &pulumirpc.InstallDependenciesResponse{}
	data := append([]byte(nil), p...)
	if w.stderr {
		msg.Stderr = data
	} else {
		msg.Stdout = data
	}
	if err := w.stream.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *pythonHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	stream pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetDirectory(), ProgramDirectory: req.GetDirectory()}
	}
	tc, _, err := resolveToolchain(info)
	if err != nil {
		return err
	}
	var stdout, stderr io.Writer = streamWriter{stream: stream}, streamWriter{stream: stream, stderr: true}
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	if err := tc.InstallDependencies(stream.Context(), dir, req.GetUseLanguageVersionTools(),
		true /*showOutput*/, stdout, stderr); err != nil {
		return err
	}
	if req.GetIsPlugin() {
		// sdk/v3 v3.260.0's toolchain installs a project's dependencies but not a plugin's own
		// package; no plugin this repository runs is a Python package (dynamic providers run in
		// the program's environment).
		return fmt.Errorf("installing a Python plugin package (%s) is not supported by this language host", dir)
	}
	return nil
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, o, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	about, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{"toolchain": o.toolchain}
	if venv, err := tc.VirtualEnvPath(ctx); err == nil && venv != "" {
		meta["virtualenv"] = venv
	}
	return &pulumirpc.AboutResponse{
		Executable: about.PythonExecutable,
		Version:    about.PythonVersion.String(),
		Metadata:   meta,
	}, nil
}

func (h *pythonHost) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, _, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	deps, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

func (h *pythonHost) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *pythonHost) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

// pick is the value named by option, case-insensitively; names and values pair up by position
// (the SDK's option types are unexported, so they are passed as values rather than a map).
func pick[T any](option, what, want string, names []string, values ...T) (T, error) {
	for i, name := range names {
		if strings.EqualFold(name, option) {
			return values[i], nil
		}
	}
	var none T
	return none, fmt.Errorf("unsupported %s option %q (want %s)", what, option, want)
}
