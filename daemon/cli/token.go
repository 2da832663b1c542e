package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"smsgw/daemon/access"
)

func (a *app) tokenCmd() *cobra.Command {
	var client string
	create := &cobra.Command{
		Use:   "create --client NAME",
		Short: "Make a bearer token for a LAN client; the token is shown once, the config keeps its SHA-256",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			token, digest, err := access.NewToken()
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"client": client, "token": token, "token_sha256": digest})
			}
			fmt.Fprintf(a.stdout, "token:         %s\n", token)
			fmt.Fprintf(a.stdout, "token_sha256:  %s\n\n", digest)
			fmt.Fprintf(a.stdout, "Give the token to the app (header \"Authorization: Bearer <token>\"); it is not stored\n")
			fmt.Fprintf(a.stdout, "anywhere and cannot be shown again. Put the digest in the configuration:\n\n")
			name := client
			if name == "" {
				name = "<name>"
			}
			fmt.Fprintf(a.stdout, "clients:\n  - name: %s\n    token_sha256: %s\n    purposes: [otp]\n", name, digest)
			return nil
		}),
	}
	create.Flags().StringVar(&client, "client", "", "the client the token is for (only used in the printed config snippet)")
	return a.group("token", "Manage LAN client tokens", create)
}
