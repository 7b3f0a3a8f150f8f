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
	list := strings.Join(commandNames(cmd), ", ")
	return fmt.Errorf("нет команды %q; есть: %s / no command %[1]q; there are: %[3]s", args[0], list, list)
}

// checkBuiltins makes cobra's own help and completion commands refuse what
// they do not know, as omsctl's commands do: on their own, "omsctl help
// bogus" and "omsctl completion foo" printed some help and exited 0, so a
// script that mistyped the shell got a help text for its completion file.
func checkBuiltins(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Args = helpTopic
		case "completion":
			c.Args = shellArg
			// Runnable, so that cobra checks the argument; alone it
			// lists the shells, as before.
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
			// Each shell's script takes no arguments; cobra's own check
			// refused extras in English only.
			for _, shell := range c.Commands() {
				shell.Args = noArgs
			}
		}
	}
}

// helpTopic refuses help about a command omsctl does not have.
func helpTopic(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	// What is left after the command found is its arguments, as in
	// "help projections rebuild cabinet", unless it has subcommands, which
	// the leftover then failed to name.
	found, rest, err := cmd.Root().Find(args)
	if err == nil && found != nil && found != cmd.Root() && (len(rest) == 0 || !found.HasSubCommands()) {
		return nil
	}
	// The choices are those of the deepest command named: after "help
	// projections bogus", projections' own (review: the top level's).
	under := cmd.Root()
	if err == nil && found != nil && found.HasSubCommands() {
		under = found
	}
	return fmt.Errorf("нет команды %q, справки по ней нет; есть: %s / no command %[1]q to help with; there are: %[2]s",
		strings.Join(args, " "), strings.Join(commandNames(under), ", "))
}

// shellArg refuses a shell the completion command has no script for.
func shellArg(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	shells := commandNames(cmd)
	return fmt.Errorf("нет скрипта дополнения для %q; есть: %s / no completion script for %[1]q; there are: %[2]s",
		strings.Join(args, " "), strings.Join(shells, ", "))
}

// commandNames lists the commands a person can run under cmd.
func commandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}
