from django.apps import AppConfig


class FlowConfig(AppConfig):
    name = "idp.flow"
    label = "flow"
    verbose_name = "Login journey"

    def ready(self) -> None:
        # The login page's "Create an account" link, where the organization in context allows it.
        from idp.flow import otp, push
        from idp.flow.factors import Factor, register_factor
        from idp.flow.pages import register_login_options
        from idp.flow.registration import login_options

        register_login_options(login_options)
        # Push approval: a factor with a page of its own (idp.flow.factors), asked when configured.
        register_factor(
            Factor(
                name=push.PUSH,
                required=push.required,
                page_url=push.page_url,
                step_up=push.can_step_up,
                # approved on the device, or the code the page falls back to (never the password alone)
                amr=frozenset({push.AMR_PUSH, *otp.AMR.values()}),
            )
        )
