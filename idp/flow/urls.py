from django.urls import path

from idp.flow import invitations, logout, push, recovery, registration, views

app_name = "flow"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/password/", views.password_view, name="password"),
    path("login/email-code/", views.email_otp_view, name="email_otp"),
    path("login/sms-code/", views.sms_otp_view, name="sms_otp"),
    path("login/first-passkey/", views.first_bootstrap_view, name="first_bootstrap"),
    path("recover/", recovery.recover_view, name="recover"),
    path("recover/reset/", recovery.reset_view, name="recover_reset"),
    path("select-organization/", views.select_org_view, name="select_org"),
    path("login/more/", views.stepup_view, name="stepup"),
    path("logout/", views.logout_view, name="logout"),
    path("logout/continue/", logout.logout_continue_view, name="logout_continue"),
    path("invitations/accept/", invitations.accept_invitation_view, name="accept_invitation"),
    path("register/", registration.register_view, name="register"),
    path("register/verify/", registration.verify_view, name="register_verify"),
    path("login/push/", push.push_view, name="push"),
    path("login/push/status/", push.push_status_view, name="push_status"),
    path("push/callback/", push.push_callback_view, name="push_callback"),
    path("recover/code/", recovery.code_view, name="recover_code"),
]
