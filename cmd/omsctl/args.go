package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/config"
)

// The argument checks say what is wrong in both languages, as omsd's
// refusals do; cobra's own say it in English only.

// noArgs refuses arguments a command does not take: ignored, they made a
// mistyped command look as if it had run as meant.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("лишние аргументы: %s; эта команда их не принимает / unexpected arguments: %[1]s; this command takes none", strings.Join(args, " "))
	}
	return nil
}

// oneArg wants exactly one argument, described by what in each language.
func oneArg(ru, en string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("нужен ровно один аргумент — %s (дано: %d) / exactly one argument is needed, %s (given: %d)", ru, len(args), en, len(args))
		}
		// An empty one reached omsd as a path without its id and came
		// back as "no such route".
		if strings.TrimSpace(args[0]) == "" {
			return fmt.Errorf("аргумент пуст — нужен %s / the argument is empty; %s is needed", ru, en)
		}
		return nil
	}
}

// unreachable is a call that got no answer from omsd at base.
func unreachable(base string, err error) error {
	return fmt.Errorf("omsd не отвечает по адресу %[1]s — он запущен? / is omsd running at %[1]s? %[2]w", base, err)
}

// notJSON is an answer that is not the JSON omsd sends: something else
// answers at base.
func notJSON(method, path, base string, err error) error {
	return fmt.Errorf("ответ на %[1]s %[2]s — не JSON omsd; по адресу %[3]s omsd? / the answer to %[1]s %[2]s is not omsd's JSON; is omsd at %[3]s? %[4]w", method, path, base, err)
}

// projectionArg wants one projection's name and lists them when it is
// missing.
func projectionArg(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		return nil
	}
	var names []string
	for _, p := range app.ProjectionsFor(config.Defaults()) {
		names = append(names, p.Name())
	}
	list := strings.Join(names, ", ")
	return fmt.Errorf("укажите одну проекцию: %s (дано аргументов: %d) / name one projection: %s (arguments given: %d)", list, len(args), list, len(args))
}

// flagError is cobra's refusal of a flag or its value, in both languages.
func flagError(_ *cobra.Command, err error) error {
	return fmt.Errorf("неверный флаг или значение: %v / bad flag or value: %[1]v", err)
}

// unknownCommand is omsctl's answer to a command it does not have.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	list := strings.Join(names, ", ")
	return fmt.Errorf("нет команды %q; есть: %s / no command %[1]q; there are: %[3]s", args[0], list, list)
}
