from django.urls import path

from idp.flow import invitations, recovery, views

app_name = "flow"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/password/", views.password_view, name="password"),
    path("login/email-code/", views.email_otp_view, name="email_otp"),
    path("login/sms-code/", views.sms_otp_view, name="sms_otp"),
    path("recover/", recovery.recover_view, name="recover"),
    path("recover/reset/", recovery.reset_view, name="recover_reset"),
    path("select-organization/", views.select_org_view, name="select_org"),
    path("logout/", views.logout_view, name="logout"),
    path("invitations/accept/", invitations.accept_invitation_view, name="accept_invitation"),
]
