from django.urls import path

from idp.flow import invitations, views

app_name = "flow"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/password/", views.password_view, name="password"),
    path("select-organization/", views.select_org_view, name="select_org"),
    path("logout/", views.logout_view, name="logout"),
    path("invitations/accept/", invitations.accept_invitation_view, name="accept_invitation"),
]
