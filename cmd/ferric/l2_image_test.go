//go:build linux

package main

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// l2EFIApp is a minimal x86-64 UEFI application (PE32+, subsystem 10) that
// writes the marker to COM1 and halts: what a UEFI machine boots from the
// deployed disk in the OVMF deploy. Hand-assembled, position independent,
// no imports and no relocations (OVMF loads it anywhere):
//
//	1000  FC                    cld
//	1001  48 8D 35 10 00 00 00  lea  rsi, [rip+0x10]   ; the message at 0x1018
//	1008  66 BA F8 03           mov  dx, 0x3F8         ; COM1 transmit holding register
//	100C  AC                    lodsb                  ; loop: al = [rsi++]
//	100D  84 C0                 test al, al
//	100F  74 03                 jz   0x1014            ; NUL ends the message
//	1011  EE                    out  dx, al
//	1012  EB F8                 jmp  0x100C
//	1014  FA                    cli                    ; nothing more to do: halt for good
//	1015  F4                    hlt
//	1016  EB FD                 jmp  0x1015
//	1018  "FERRIC-E2E-BOOTED\r\n\0"
func l2EFIApp() []byte {
	code := []byte{0xFC, 0x48, 0x8D, 0x35, 0x10, 0x00, 0x00, 0x00, 0x66, 0xBA, 0xF8, 0x03,
		0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, 0xFA, 0xF4, 0xEB, 0xFD}
	code = append(code, e2eMarker+"\r\n\x00"...)

	const fileAlign, sectAlign, textRVA = 0x200, 0x1000, 0x1000
	pe := make([]byte, 2*fileAlign) // headers, then .text
	le := binary.LittleEndian
	copy(pe, "MZ")
	le.PutUint32(pe[0x3C:], 0x40) // e_lfanew
	copy(pe[0x40:], "PE\x00\x00")
	coff := pe[0x44:]
	le.PutUint16(coff[0:], 0x8664)  // Machine: x86-64
	le.PutUint16(coff[2:], 1)       // NumberOfSections
	le.PutUint16(coff[16:], 0xF0)   // SizeOfOptionalHeader (PE32+, 16 directories)
	le.PutUint16(coff[18:], 0x0022) // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
	opt := pe[0x58:]
	le.PutUint16(opt[0:], 0x20B)              // PE32+
	le.PutUint32(opt[4:], fileAlign)          // SizeOfCode
	le.PutUint32(opt[16:], textRVA)           // AddressOfEntryPoint
	le.PutUint32(opt[20:], textRVA)           // BaseOfCode
	le.PutUint64(opt[24:], 0x10000000)        // ImageBase
	le.PutUint32(opt[32:], sectAlign)         // SectionAlignment
	le.PutUint32(opt[36:], fileAlign)         // FileAlignment
	le.PutUint32(opt[56:], textRVA+sectAlign) // SizeOfImage
	le.PutUint32(opt[60:], fileAlign)         // SizeOfHeaders
	le.PutUint16(opt[68:], 10)                // Subsystem: EFI application
	le.PutUint32(opt[108:], 16)               // NumberOfRvaAndSizes (all zero)
	sec := pe[0x58+0xF0:]
	copy(sec, ".text")
	le.PutUint32(sec[8:], uint32(len(code))) // VirtualSize
	le.PutUint32(sec[12:], textRVA)          // VirtualAddress
	le.PutUint32(sec[16:], fileAlign)        // SizeOfRawData
	le.PutUint32(sec[20:], fileAlign)        // PointerToRawData
	le.PutUint32(sec[36:], 0x60000020)       // CODE | EXECUTE | READ
	copy(pe[fileAlign:], code)
	return pe
}

// l2UEFIImage is a size-byte raw disk image a UEFI machine boots: an MBR
// with one EFI system partition (FAT16) holding \EFI\BOOT\BOOTX64.EFI (the
// marker app) and a file of pseudo-random bytes, so that a disk holding
// zeros or a partial write does not match.
func l2UEFIImage(t testing.TB, size int64) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "uefi.img")
	d, err := diskfs.Create(path, size, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const start = 2048
	if err := d.Partition(&mbr.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, Partitions: []*mbr.Partition{
		{Index: 1, Bootable: true, Type: mbr.EFISystem, Start: start, Size: uint32(size/512) - start},
	}}); err != nil {
		t.Fatalf("partition: %v", err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat16, VolumeLabel: "ESP"})
	if err != nil {
		t.Fatalf("fat16: %v", err)
	}
	if err := fs.Mkdir("/EFI/BOOT"); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	payload := make([]byte, size/2)
	_, _ = rand.NewChaCha8([32]byte{'u', 'e', 'f', 'i'}).Read(payload)
	for name, content := range map[string][]byte{"/EFI/BOOT/BOOTX64.EFI": l2EFIApp(), "/PAYLOAD.BIN": payload} {
		f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if _, err := f.Write(content); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close %s: %v", name, err)
		}
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
