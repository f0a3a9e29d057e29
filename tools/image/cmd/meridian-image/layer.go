package main

// A layer from a folder, byte for byte the same on every machine: entries in lexical order, owned
// by root (uid/gid 0, no user or group names), every mtime set to the build's epoch, no access or
// change times, permission bits only. Hard links stay links, so a file is stored once.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type inode struct{ dev, ino uint64 }

// folderTar writes the tar of root's contents (root itself is the image's "/").
func folderTar(root string, epoch time.Time, w io.Writer) error {
	tw := tar.NewWriter(w)
	seen := map[inode]string{}
	// WalkDir visits each folder's entries in lexical order, parents before children.
	err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    int64(info.Mode().Perm()),
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				key := inode{uint64(st.Dev), st.Ino} //nolint:unconvert // Dev is int32 on some platforms
				if first, ok := seen[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					seen[key] = hdr.Name
				}
			}
		default:
			return fmt.Errorf("%s: only folders, files and symbolic links belong in an image (found %s)", path, mode.Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// folderLayer is the gzip-compressed OCI layer of a folder. The tar is made once, in memory: the
// layers of these images are tens of megabytes, and hashing needs them twice.
func folderLayer(root string, epoch time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := folderTar(root, epoch, &buf); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer),
	)
}
