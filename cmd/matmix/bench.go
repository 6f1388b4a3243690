package main

import (
	"errors"
	"io"
)

func benchCmd(args []string, stdout, stderr io.Writer) error {
	return errors.New("bench: not implemented yet")
}

func devicesCmd(args []string, stdout, stderr io.Writer) error {
	return errors.New("devices: not implemented yet")
}
