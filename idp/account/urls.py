from django.urls import path

from idp.account import views

app_name = "account"
urlpatterns = [
    path("", views.account_view, name="home"),
    path("profile/", views.profile_view, name="profile"),
    path("attributes/", views.attributes_view, name="attributes"),
    path("contact/", views.contact_view, name="contact"),
    path("contact/confirm/", views.confirm_view, name="confirm"),
    path("passkeys/<int:pk>/revoke/", views.passkey_revoke_view, name="passkey_revoke"),
    path("passkeys/<int:pk>/rename/", views.passkey_rename_view, name="passkey_rename"),
    path("sessions/<int:pk>/sign-out/", views.session_end_view, name="session_end"),
    path("sessions/sign-out-others/", views.sessions_end_others_view, name="sessions_end_others"),
    path("linked/<int:pk>/unlink/", views.unlink_view, name="unlink"),
]
